/**
 * The agent's settings: from options, else from the environment the manager
 * gives a guest it launches. Everything is checked here, once, so a bad value
 * fails at connect() with FROCTAL_E_CONFIG naming the option or variable,
 * instead of as a refused hello much later.
 */
import { type Clock, systemClock } from "@froctal/primitives";
import { DEFAULT_LIMITS, FroctalError, type Limits } from "@froctal/protocol";
import type { BackoffPolicy } from "./core/backoff.js";
import type { OverflowPolicy } from "./core/outbox.js";
import { parseTargets, type Target } from "./core/target.js";
import type { TransportFactory } from "./core/transport.js";

export interface AgentOptions {
  /**
   * Manager address; default FROCTAL_MANAGER_URL. See target.ts for the forms. Several WebSocket
   * addresses (comma-separated, or an array): every manager of the fleet; the agent tries the next
   * whenever one fails, and stays on the one that answers (the leader).
   */
  readonly url?: string | readonly string[];
  /** This instance's id; default FROCTAL_INSTANCE_ID. */
  readonly instanceId?: string;
  /** Per-instance token; default FROCTAL_TOKEN. Required for ws:// and wss://; may be empty on byte streams. */
  readonly token?: string;
  /** Where to read FROCTAL_* from; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** What the guest was built with, reported in the hello. */
  readonly build?: {
    readonly app?: string;
    readonly appVersion?: string;
    readonly features?: readonly string[];
    readonly platform?: string;
  };
  /** The configuration generation the guest already runs (0: none). */
  readonly runningGeneration?: number;
  /** Longest a signal waits before its batch is flushed, ms (default 10). */
  readonly flushIntervalMs?: number;
  /** Most events per batch; the manager's ManagerHello.max_batch_events lowers it further. */
  readonly maxBatchEvents?: number;
  /** Largest frame the agent writes or reads, bytes; the manager's ManagerHello.max_frame_bytes lowers it further. */
  readonly maxFrameBytes?: number;
  /** Bound of the event outbox (events kept until acked). */
  readonly buffer?: {
    /** Default 10,000 events. */
    readonly maxEvents?: number;
    /** Default 8 MiB of encoded events. */
    readonly maxBytes?: number;
    /** Default 'reject'. */
    readonly overflow?: OverflowPolicy;
  };
  /** Most distinct metric names (default 4,096). */
  readonly maxMetrics?: number;
  /** Bytes queued on the connection above which the agent stops writing and lets gauges coalesce (default 256 KiB). */
  readonly highWaterMark?: number;
  /**
   * Reconnect backoff: full jitter below min(maxMs, initialMs * 2^attempt), once per round (one try of every
   * manager address; with one address, every attempt); maxAttempts failed rounds in a row are terminal.
   * maxMs defaults to 2,000, as a host's: a manager restart or a failover takes seconds, and a guest that
   * waited up to 30 s (the old default) kept its manager from scaling in or rolling out that long.
   */
  readonly reconnect?: { readonly initialMs?: number; readonly maxMs?: number; readonly maxAttempts?: number };
  /** How long the manager has to answer the hello, ms (default 10,000). */
  readonly helloTimeoutMs?: number;
  /** How long close() waits for the outbox to be acked, ms (default 5,000). */
  readonly closeTimeoutMs?: number;
  /** Time source (tests): now() for durations and timeouts, wallNow() for the timestamps events carry. */
  readonly clock?: Clock;
  /** Random source in [0, 1) for jitter (tests). */
  readonly random?: () => number;
  /** Opens connections (tests, or a transport this package does not ship). */
  readonly transport?: TransportFactory;
}

export interface ResolvedOptions {
  /** Where the manager may be, in the order tried: one address, or several WebSocket ones. */
  readonly targets: readonly Target[];
  readonly instanceId: string;
  readonly token: string;
  readonly build: { app: string; appVersion: string; features: string[]; platform: string };
  readonly runningGeneration: number;
  readonly flushIntervalMs: number;
  /** The agent's own limits: what it checks signals against and stays under. */
  readonly limits: Limits;
  readonly buffer: { readonly maxEvents: number; readonly maxBytes: number; readonly overflow: OverflowPolicy };
  readonly maxMetrics: number;
  readonly highWaterMark: number;
  readonly reconnect: BackoffPolicy & { readonly maxAttempts: number };
  readonly helloTimeoutMs: number;
  readonly closeTimeoutMs: number;
  readonly clock: Clock;
  readonly random: () => number;
  /** Unset: the agent picks the built-in transport for the target. */
  readonly transport: TransportFactory | undefined;
}

const ID = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;
const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
const TOKEN = /^[\x21-\x7e]*$/;

export function resolveOptions(options: AgentOptions = {}): ResolvedOptions {
  const env = options.env ?? process.env;
  const pick = <T>(option: T | undefined, name: string, variable: string) =>
    option !== undefined ? { value: option, source: `options.${name}` } : { value: env[variable], source: variable };

  const url = pick(options.url, "url", "FROCTAL_MANAGER_URL");
  if (!url.value) throw missing("FROCTAL_MANAGER_URL", "url", "the manager's address");
  const targets = parseTargets(url.value, url.source);

  const id = pick(options.instanceId, "instanceId", "FROCTAL_INSTANCE_ID");
  if (!id.value) throw missing("FROCTAL_INSTANCE_ID", "instanceId", "this instance's id");
  if (id.value.length > DEFAULT_LIMITS.maxNameLength || !ID.test(id.value)) {
    throw config(`${id.source} is not a valid instance id: ${JSON.stringify(id.value)}`);
  }

  const token = pick(options.token, "token", "FROCTAL_TOKEN");
  if (!token.value && targets[0]?.kind === "websocket") {
    throw missing("FROCTAL_TOKEN", "token", "the per-instance token (required over WebSocket)");
  }
  // A token read from a file often ends in a newline; refusing it here beats a bad-token refusal.
  if (token.value && (token.value.length > 512 || !TOKEN.test(token.value))) {
    throw config(`${token.source} must be at most 512 printable characters without spaces`);
  }

  const limits: Limits = {
    ...DEFAULT_LIMITS,
    maxFrameBytes: count(options.maxFrameBytes, "maxFrameBytes", DEFAULT_LIMITS.maxFrameBytes, 256),
    maxBatchEvents: count(options.maxBatchEvents, "maxBatchEvents", DEFAULT_LIMITS.maxBatchEvents),
  };
  const initialMs = count(options.reconnect?.initialMs, "reconnect.initialMs", 100);
  return {
    targets,
    instanceId: id.value,
    token: token.value ?? "",
    build: resolveBuild(options.build),
    runningGeneration: count(options.runningGeneration, "runningGeneration", 0, 0),
    flushIntervalMs: count(options.flushIntervalMs, "flushIntervalMs", 10, 0),
    limits,
    buffer: {
      maxEvents: count(options.buffer?.maxEvents, "buffer.maxEvents", 10_000),
      maxBytes: count(options.buffer?.maxBytes, "buffer.maxBytes", 8 << 20),
      overflow: overflow(options.buffer?.overflow),
    },
    maxMetrics: count(options.maxMetrics, "maxMetrics", 4096),
    highWaterMark: count(options.highWaterMark, "highWaterMark", 256 << 10, 0),
    reconnect: {
      initialMs,
      maxMs: count(options.reconnect?.maxMs, "reconnect.maxMs", 2_000, initialMs),
      maxAttempts: count(options.reconnect?.maxAttempts, "reconnect.maxAttempts", Number.POSITIVE_INFINITY),
    },
    helloTimeoutMs: count(options.helloTimeoutMs, "helloTimeoutMs", 10_000),
    closeTimeoutMs: count(options.closeTimeoutMs, "closeTimeoutMs", 5_000, 0),
    clock: options.clock ?? systemClock,
    random: options.random ?? Math.random,
    transport: options.transport,
  };
}

function resolveBuild(build: AgentOptions["build"]): ResolvedOptions["build"] {
  const text = (value: string | undefined, name: string) => {
    if (value === undefined) return "";
    if (typeof value !== "string" || value.length > DEFAULT_LIMITS.maxNameLength) {
      throw config(`options.build.${name} must be a string of at most ${DEFAULT_LIMITS.maxNameLength} characters`);
    }
    return value;
  };
  const features = [...(build?.features ?? [])];
  if (features.length > DEFAULT_LIMITS.maxProperties) {
    throw config(`options.build.features has ${features.length} entries; the limit is ${DEFAULT_LIMITS.maxProperties}`);
  }
  for (const f of features) {
    if (typeof f !== "string" || f.length > DEFAULT_LIMITS.maxNameLength || !NAME.test(f)) {
      throw config(`options.build.features has an invalid feature name: ${JSON.stringify(f)}`);
    }
  }
  return {
    app: text(build?.app, "app"),
    appVersion: text(build?.appVersion, "appVersion"),
    features,
    platform: text(build?.platform, "platform") || `node-${process.versions.node} ${process.platform} ${process.arch}`,
  };
}

/** A whole number option with a default and a lower bound. */
function count(value: number | undefined, name: string, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const whole = Number.isSafeInteger(value) || value === Number.POSITIVE_INFINITY;
  if (typeof value !== "number" || !whole || value < min) {
    throw config(`options.${name} must be a whole number >= ${min}, not ${String(value)}`);
  }
  return value;
}

function overflow(value: OverflowPolicy | undefined): OverflowPolicy {
  if (value === undefined || value === "reject" || value === "drop-oldest") return value ?? "reject";
  throw config(`options.buffer.overflow must be 'reject' or 'drop-oldest', not ${JSON.stringify(value)}`);
}

function missing(variable: string, option: string, what: string): FroctalError {
  return config(`${variable} is not set and options.${option} is not given: the agent needs ${what}`);
}

function config(sentence: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", sentence);
}
