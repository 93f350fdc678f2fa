/** createAgentServer's options, their defaults, and the check that they make sense together. */

import type { Ingest } from "@froctal/manager";
import { type Clock, systemClock } from "@froctal/primitives";
import { DEFAULT_LIMITS, FroctalError, type Limits } from "@froctal/protocol";

/** Per-connection rate limits: two token buckets, one on frames and one on signals (events + metric samples). */
export interface RateLimits {
  readonly framesPerSec: number;
  readonly signalsPerSec: number;
  /** How many seconds' worth of either may arrive at once (the buckets' depth). */
  readonly burstSeconds: number;
}

/** A pino logger fits; the default says nothing. */
export interface ServerLog {
  debug(fields: object, message: string): void;
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

export interface AgentServerOptions {
  /** The manager core, behind its port. */
  readonly ingest: Ingest;
  /** Edge limits; unset ones default to DEFAULT_LIMITS. */
  readonly limits?: Partial<Limits>;
  /** How long a new connection has to say hello. Default 10 s. */
  readonly helloTimeoutMs?: number;
  /** Ping after this long without hearing from the agent; give up after three. Default 15 s. */
  readonly heartbeatMs?: number;
  readonly rate?: Partial<RateLimits>;
  /** Above this many bytes waiting to be written, AgentSession.send says false. Default limits.maxFrameBytes. */
  readonly maxBufferedBytes?: number;
  /** How long a closing connection may take to finish before it is dropped. Default 2 s. */
  readonly closeGraceMs?: number;
  readonly clock?: Clock;
  readonly log?: ServerLog;
}

export interface ResolvedOptions {
  readonly ingest: Ingest;
  readonly limits: Limits;
  readonly helloTimeoutMs: number;
  readonly heartbeatMs: number;
  readonly rate: RateLimits;
  readonly maxBufferedBytes: number;
  readonly closeGraceMs: number;
  readonly clock: Clock;
  readonly log: ServerLog;
}

const silent = () => {};
export const silentLog: ServerLog = Object.freeze({ debug: silent, info: silent, warn: silent, error: silent });

export const DEFAULT_RATE: RateLimits = Object.freeze({ framesPerSec: 500, signalsPerSec: 100_000, burstSeconds: 2 });

export function resolveOptions(options: AgentServerOptions): ResolvedOptions {
  const limits: Limits = { ...DEFAULT_LIMITS, ...options.limits };
  const rate: RateLimits = { ...DEFAULT_RATE, ...options.rate };
  const resolved: ResolvedOptions = {
    ingest: options.ingest,
    limits,
    helloTimeoutMs: options.helloTimeoutMs ?? 10_000,
    heartbeatMs: options.heartbeatMs ?? 15_000,
    rate,
    maxBufferedBytes: options.maxBufferedBytes ?? limits.maxFrameBytes,
    closeGraceMs: options.closeGraceMs ?? 2_000,
    clock: options.clock ?? systemClock,
    log: options.log ?? silentLog,
  };
  const positive: Record<string, number> = {
    "limits.maxFrameBytes": limits.maxFrameBytes,
    helloTimeoutMs: resolved.helloTimeoutMs,
    heartbeatMs: resolved.heartbeatMs,
    "rate.framesPerSec": rate.framesPerSec,
    "rate.signalsPerSec": rate.signalsPerSec,
    "rate.burstSeconds": rate.burstSeconds,
    maxBufferedBytes: resolved.maxBufferedBytes,
    closeGraceMs: resolved.closeGraceMs,
  };
  for (const [name, value] of Object.entries(positive)) {
    if (!(Number.isFinite(value) && value > 0)) {
      throw new FroctalError("FROCTAL_E_CONFIG", `${name} must be a positive number, not ${value}`);
    }
  }
  // ManagerHello carries heartbeat_ms and max_frame_bytes as uint32.
  if (resolved.heartbeatMs > 0xffffffff || limits.maxFrameBytes > 0xffffffff) {
    throw new FroctalError("FROCTAL_E_CONFIG", "heartbeatMs and limits.maxFrameBytes must fit in 32 bits");
  }
  // A bucket shallower than the largest valid batch would refuse that batch forever, and the agent would retry it forever.
  const fullBatch = limits.maxBatchEvents + limits.maxBatchSamples;
  if (rate.signalsPerSec * rate.burstSeconds < fullBatch) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `rate.signalsPerSec x rate.burstSeconds (${rate.signalsPerSec * rate.burstSeconds}) must hold a full batch of ${fullBatch} signals (limits.maxBatchEvents + limits.maxBatchSamples)`,
    );
  }
  if (rate.framesPerSec * rate.burstSeconds < 1) {
    throw new FroctalError("FROCTAL_E_CONFIG", "rate.framesPerSec x rate.burstSeconds must be at least 1");
  }
  return resolved;
}
