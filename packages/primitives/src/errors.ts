/**
 * Every error froctal reports carries one of these stable codes, a sentence a
 * person understands, and whether trying again may help. This file is the one
 * list of codes: add a code here, with its meaning, before using it.
 */
export const ErrorCodes = {
  /** A frame is larger than the limit; rejected before any decoding. */
  FROCTAL_E_FRAME_TOO_LARGE: { retryable: false },
  /** The bytes are not a protobuf frame of the expected type (truncated, bad wire type, too deep). */
  FROCTAL_E_FRAME_MALFORMED: { retryable: false },
  /** The frame decoded but breaks the contract (empty id, NaN value, too many events...). */
  FROCTAL_E_FRAME_INVALID: { retryable: false },
  /** A well-formed frame arrived at the wrong time (no hello first, a second hello...). */
  FROCTAL_E_FRAME_UNEXPECTED: { retryable: false },
  /**
   * A trace file (record/replay) is refused: foreign, of a format version this
   * froctal does not read, or with a truncated, damaged or contract-breaking
   * record; the sentence names the byte offset where reading stopped.
   */
  FROCTAL_E_TRACE: { retryable: false },
  /** The peers share no protocol version. */
  FROCTAL_E_VERSION: { retryable: false },
  /** The instance is unknown or its token does not match. */
  FROCTAL_E_AUTH: { retryable: false },
  /** The manager is starting (re-adopting its guests): a guest that says hello now should try again in a moment. */
  FROCTAL_E_STARTING: { retryable: true },
  /** The peer did not say hello in time. */
  FROCTAL_E_HELLO_TIMEOUT: { retryable: true },
  /** The peer sends faster than its limit allows. */
  FROCTAL_E_RATE_LIMITED: { retryable: true },
  /** Another connection took over this instance's session. */
  FROCTAL_E_SESSION_REPLACED: { retryable: true },
  /** The agent's outbox is full and an event could not be queued. */
  FROCTAL_E_BUFFER_FULL: { retryable: true },
  /** The agent, connection or manager is closed. */
  FROCTAL_E_CLOSED: { retryable: false },
  /** The connection dropped or could not be made. */
  FROCTAL_E_TRANSPORT: { retryable: true },
  /** An option, environment variable, flag or file is invalid. */
  FROCTAL_E_CONFIG: { retryable: false },
  /** Something did not answer in time. */
  FROCTAL_E_TIMEOUT: { retryable: true },
  /** A guest rejected a configuration in prepare. */
  FROCTAL_E_CONFIG_NACK: { retryable: false },
  /** A wait was cancelled or aborted before it settled. */
  FROCTAL_E_CANCELLED: { retryable: false },
  /** A loop hit its bound: a cycle feeds itself (a reaction pushing on every tick, a timer re-arming at once). */
  FROCTAL_E_RUNAWAY: { retryable: false },
  /** A call was made from inside the callback it would have to run (flush() inside apply). */
  FROCTAL_E_REENTRANT: { retryable: false },
  /** The machine is out of a resource (processes, file descriptors, memory); it may pass. */
  FROCTAL_E_RESOURCES: { retryable: true },
  /** No connected host can take an instance (none, all lost, or none meets its service's constraints); it may pass. */
  FROCTAL_E_NO_HOST: { retryable: true },
  /** The host running an instance went silent; the action may be tried again once it is back or replaced. */
  FROCTAL_E_HOST_LOST: { retryable: true },
  /** An HTTP API route or an object it names does not exist. */
  FROCTAL_E_NOT_FOUND: { retryable: false },
  /** An unexpected internal failure; a bug report is welcome. */
  FROCTAL_E_INTERNAL: { retryable: false },
} as const satisfies Record<string, { retryable: boolean }>;

export type ErrorCode = keyof typeof ErrorCodes;

export class FroctalError extends Error {
  override readonly name = "FroctalError";
  readonly code: ErrorCode;
  readonly retryable: boolean;

  constructor(code: ErrorCode, sentence: string, options?: { cause?: unknown; retryable?: boolean }) {
    super(`${code}: ${sentence}`, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = options?.retryable ?? ErrorCodes[code].retryable;
  }

  /** The sentence without the code prefix, for wire reasons and UIs. */
  get sentence(): string {
    return this.message.slice(this.code.length + 2);
  }
}

/** Normalises anything caught into a FroctalError, keeping the original as cause. */
export function toFroctalError(cause: unknown, code: ErrorCode = "FROCTAL_E_INTERNAL"): FroctalError {
  if (cause instanceof FroctalError) return cause;
  const text = cause instanceof Error ? cause.message : String(cause);
  return new FroctalError(code, text, { cause });
}

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ErrorCodes, value);
}
