/**
 * Driving a VirtualClock when promises are involved: the executor's driver
 * calls resolve in microtasks, and what they report is pushed on the clock,
 * so a test lets microtasks run between timer steps.
 */
import type { VirtualClock } from "@froctal/primitives";

/** Lets pending promise continuations run (a bounded number of microtask turns). */
export async function microtasks(turns = 50): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** Runs everything due now, and what it causes, until nothing more is due now. */
export async function settle(clock: VirtualClock, maxRounds = 1_000): Promise<void> {
  let quiet = 0;
  for (let round = 0; round < maxRounds; round++) {
    await microtasks();
    quiet = clock.advance(0) === 0 ? quiet + 1 : 0;
    if (quiet === 2) return;
  }
  throw new Error(`settle: still busy after ${maxRounds} rounds (a loop that never goes quiet?)`);
}

/** Moves time forward by `ms` in steps of at most `stepMs`, settling after each. */
export async function elapse(clock: VirtualClock, ms: number, stepMs = 10): Promise<void> {
  await settle(clock);
  let left = ms;
  while (left > 0) {
    const d = Math.min(stepMs, left);
    clock.advance(d);
    left -= d;
    await settle(clock);
  }
}
