/**
 * Reconnect delays: exponential backoff with full jitter (a uniformly random
 * delay below an exponentially growing, capped ceiling), so a fleet that lost
 * its manager does not come back in lockstep.
 */
export interface BackoffPolicy {
  /** Ceiling of the first delay, ms. */
  readonly initialMs: number;
  /** Ceiling of any delay, ms: the bound of the reconnect loop. */
  readonly maxMs: number;
}

/**
 * The delay before reconnect attempt `attempt` (0 for the first retry).
 * `retryAfterMs`, from a retryable Refuse, is a floor the manager asked for.
 */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number, retryAfterMs = 0): number {
  const ceiling = Math.min(policy.maxMs, policy.initialMs * 2 ** Math.max(0, attempt));
  const jittered = Math.floor(random() * ceiling);
  return Math.max(jittered, retryAfterMs);
}
