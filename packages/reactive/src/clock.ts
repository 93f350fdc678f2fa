/** Disposes of a subscription, timer or resource; calling it twice is harmless. */
export type Disposer = () => void;

/**
 * Time, injected: the manager never reads the global clock or timers, so tests
 * drive it with a virtual clock and a recorded trace replays identically.
 */
export interface Clock {
  /** Milliseconds on a monotonic timeline (not necessarily the Unix epoch). */
  now(): number;
  /** Runs `fn` once after `ms`; the disposer cancels it. */
  setTimeout(fn: () => void, ms: number): Disposer;
}
