import type { Clock, Disposer } from "./clock.js";

/**
 * The host's timers and monotonic clock, typed here because the package
 * compiles without Node or DOM types. Looked up on every call, not captured at
 * load time, so a test that installs fake timers on globalThis still sees them.
 */
interface HostTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  readonly performance: { now(): number };
  readonly Date: { now(): number };
}

const host = globalThis as unknown as HostTimers;

/**
 * Hosts clamp delays above 2^31-1 ms (Node fires them after 1 ms, with a
 * warning), so a longer delay is waited for in steps of at most this.
 */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** The real clock: `performance.now()`, `Date.now()` for wall time, and the host's `setTimeout`. */
export const systemClock: Clock = {
  now: () => host.performance.now(),
  wallNow: () => host.Date.now(),
  setTimeout(fn: () => void, ms: number): Disposer {
    // NaN and negative delays mean "as soon as possible", as they do for the host.
    let remaining = Number.isNaN(ms) ? 0 : Math.max(ms, 0);
    if (remaining === Number.POSITIVE_INFINITY) return () => {};
    let handle: unknown;
    let active = true;
    // Bounded: each step waits MAX_TIMER_DELAY_MS of the finite remainder.
    const arm = (): void => {
      const step = Math.min(remaining, MAX_TIMER_DELAY_MS);
      remaining -= step;
      handle = host.setTimeout(remaining > 0 ? arm : fire, step);
    };
    const fire = (): void => {
      active = false;
      fn();
    };
    arm();
    return () => {
      if (!active) return;
      active = false;
      host.clearTimeout(handle);
    };
  },
};
