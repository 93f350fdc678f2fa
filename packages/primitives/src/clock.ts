/** Disposes of a subscription, timer or resource; calling it twice is harmless. */
export type Disposer = () => void;

/**
 * Time, injected: no froctal package reads the global clock or timers, so
 * tests drive it with a virtual clock and a recorded trace replays identically.
 */
export interface Clock {
  /** Milliseconds on a monotonic timeline (not the Unix epoch): for durations, deadlines and ordering. */
  now(): number;
  /** Milliseconds since the Unix epoch: only where a timestamp leaves the process (events, journal, status). */
  wallNow(): number;
  /** Runs `fn` once after `ms`; the disposer cancels it. */
  setTimeout(fn: () => void, ms: number): Disposer;
}
