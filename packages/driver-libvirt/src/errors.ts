import { type ErrorCode, FroctalError } from "@froctal/protocol";

/**
 * What went wrong in a libvirt call, as far as the driver acts on it. The
 * binding rejects with the message only (its `code` is always -1), and virsh
 * prints the same messages, so this is read from the text: libvirt's messages
 * are stable English in the C locale, which the binding runs in (Node never
 * calls setlocale) and which virsh is given (LC_ALL=C).
 */
export type LibvirtFailure =
  /** The domain does not exist (any more): for a stop, the job is done. */
  | "gone"
  /** A domain of that name or UUID already exists or runs. */
  | "exists"
  /** The domain exists but does not run. */
  | "inactive"
  /** The connection to the host is down or could not be made: reconnect, resync, retry. */
  | "transport"
  /** libvirt itself timed out (a state-change lock): retry. */
  | "timeout"
  /** The call did not return within the driver's timeout; with no keepalive in the binding, the connection may be dead. */
  | "stalled"
  /** The host's driver cannot do this at all. */
  | "unsupported"
  /** The XML, an argument or a file it names is wrong. */
  | "invalid"
  /** Refused for lack of rights. */
  | "denied"
  /** The host is out of memory or similar; it may pass. */
  | "resources"
  | "other";

/** First match wins: "Failed to connect socket ...: No such file" is a transport failure, not an invalid file. */
const PATTERNS: readonly (readonly [LibvirtFailure, RegExp])[] = [
  ["denied", /authentication (failed|unavailable)|access denied|permission denied|not authorized/i],
  [
    "transport",
    /unable to connect|failed to connect|cannot (recv|write|read|send) data|client socket is closed|end of file while reading|connection (refused|reset|closed|timed out)|broken pipe|no route to host|network is unreachable|no connection driver available|invalid connection pointer|is not connected|connection is closed|host key verification failed|could not resolve/i,
  ],
  ["timeout", /timed out during operation|cannot acquire state change lock/i],
  ["gone", /domain not found|no domain with matching|failed to get domain/i],
  ["exists", /already exists|is already active|already defined/i],
  ["inactive", /not running|domain is not running|is not active/i],
  ["unsupported", /not supported|unsupported operation|no support for/i],
  ["resources", /cannot allocate memory|out of memory|resource temporarily unavailable|too many open files/i],
  [
    "invalid",
    /xml error|failed to parse|missing name information|unsupported configuration|invalid argument|xml document failed to validate|no such file or directory|cannot access storage file|unknown os type|invalid (uuid|value|domain)|\(domain_definition\)|parser error|start tag expected/i,
  ],
];

const CODES: Record<LibvirtFailure, ErrorCode> = {
  gone: "FROCTAL_E_NOT_FOUND",
  exists: "FROCTAL_E_CONFIG",
  inactive: "FROCTAL_E_NOT_FOUND",
  transport: "FROCTAL_E_TRANSPORT",
  timeout: "FROCTAL_E_TIMEOUT",
  stalled: "FROCTAL_E_TIMEOUT",
  unsupported: "FROCTAL_E_CONFIG",
  invalid: "FROCTAL_E_CONFIG",
  denied: "FROCTAL_E_CONFIG",
  resources: "FROCTAL_E_RESOURCES",
  other: "FROCTAL_E_INTERNAL",
};

/** A failed libvirt call (or virsh run), classified once; callers branch on `failure`, the manager reads `code`. */
export class LibvirtCallError extends FroctalError {
  readonly failure: LibvirtFailure;

  constructor(failure: LibvirtFailure, sentence: string, cause: unknown) {
    super(CODES[failure], sentence, { cause });
    this.failure = failure;
  }
}

export function classifyLibvirtMessage(message: string): LibvirtFailure {
  for (const [failure, pattern] of PATTERNS) if (pattern.test(message)) return failure;
  return "other";
}

/** The one door from a libvirt rejection to a FroctalError: `doing` says what was attempted, on which host. */
export function libvirtError(cause: unknown, doing: string): LibvirtCallError {
  if (cause instanceof LibvirtCallError) return cause;
  const message = messageOf(cause);
  return new LibvirtCallError(classifyLibvirtMessage(message), `${doing} failed: ${message}`, cause);
}

/** The failure a caught error stands for, if it came through libvirtError(). */
export function failureOf(error: unknown): LibvirtFailure | undefined {
  return error instanceof LibvirtCallError ? error.failure : undefined;
}

function messageOf(cause: unknown): string {
  if (cause instanceof Error) return cause.message;
  return typeof cause === "string" ? cause : String(cause);
}

/** What a call to a closed driver rejects with. */
export function closedError(what: string): FroctalError {
  return new FroctalError("FROCTAL_E_CLOSED", `the libvirt driver is closed; ${what}`);
}
