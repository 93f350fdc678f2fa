/** Cancels a timer, subscription or resource; calling it twice is harmless. */
export type Disposer = () => void;

/**
 * Time, injected (the same shape as @froctal/reactive's Clock, which the agent
 * may not import): tests replace it, and every timer the agent arms goes
 * through it, so close() can prove none is left behind.
 */
export interface Clock {
  /** Wall-clock milliseconds since the Unix epoch (events carry it as at_ms). */
  now(): number;
  /** Runs `fn` once after `ms`; the disposer cancels it. */
  setTimeout(fn: () => void, ms: number): Disposer;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const timer = setTimeout(fn, ms);
    return () => clearTimeout(timer);
  },
};
