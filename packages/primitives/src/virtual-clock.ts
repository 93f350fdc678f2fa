import type { Clock, Disposer } from "./clock.js";
import { FroctalError } from "./errors.js";

interface Timer {
  readonly due: number;
  /** Breaks ties between timers due at the same time: first scheduled runs first. */
  readonly seq: number;
  fn: (() => void) | undefined;
}

export interface VirtualClockOptions {
  /** The time now() starts at; 0 unless given. */
  readonly start?: number;
  /** What wallNow() reads when now() reads `start`; wall time moves with now(). 0 unless given. */
  readonly wallStart?: number;
  /** How many timers one advance() or runAll() may run before it stops as a runaway; 100,000 unless given. */
  readonly maxTimersPerRun?: number;
}

/**
 * A clock for tests: time stands still until advance() or runAll() moves it,
 * and timers run in due-time order (ties in the order they were scheduled), so
 * the same calls always give the same run. Timers live in a binary min-heap;
 * a cancelled timer stays in the heap with no callback until it reaches the
 * top or a compaction removes it.
 */
export class VirtualClock implements Clock {
  private time: number;
  private readonly wallOffset: number;
  private readonly maxTimersPerRun: number;
  private heap: Timer[] = [];
  private live = 0;
  private seq = 0;
  private running = false;

  constructor(options: VirtualClockOptions = {}) {
    this.time = options.start ?? 0;
    this.wallOffset = (options.wallStart ?? 0) - this.time;
    this.maxTimersPerRun = options.maxTimersPerRun ?? 100_000;
    if (!Number.isFinite(this.time)) throw new FroctalError("FROCTAL_E_CONFIG", "VirtualClock start must be finite");
    if (!(this.maxTimersPerRun >= 1)) {
      throw new FroctalError("FROCTAL_E_CONFIG", "VirtualClock maxTimersPerRun must be at least 1");
    }
  }

  now(): number {
    return this.time;
  }

  wallNow(): number {
    return this.wallOffset + this.time;
  }

  /** Timers scheduled and neither run nor cancelled. */
  get pending(): number {
    return this.live;
  }

  setTimeout(fn: () => void, ms: number): Disposer {
    // Same reading of odd delays as the system clock: NaN and negative mean now, Infinity never.
    const delay = Number.isNaN(ms) ? 0 : Math.max(ms, 0);
    if (delay === Number.POSITIVE_INFINITY) return () => {};
    const timer: Timer = { due: this.time + delay, seq: this.seq++, fn };
    this.insert(timer);
    this.live++;
    return () => {
      if (timer.fn === undefined) return;
      timer.fn = undefined;
      this.live--;
      this.compactIfSparse();
    };
  }

  /**
   * Moves time forward by `ms`, running every timer due by then in time order,
   * including timers those timers schedule. Returns how many ran. A timer that
   * throws stops the advance at its due time and the error propagates; time
   * then stays there, and another advance() carries on.
   */
  advance(ms: number): number {
    if (!(ms >= 0) || !Number.isFinite(ms)) {
      throw new FroctalError("FROCTAL_E_CONFIG", `VirtualClock.advance needs a finite ms >= 0, got ${ms}`);
    }
    const target = this.time + ms;
    const ran = this.run(target);
    this.time = target;
    return ran;
  }

  /** Runs timers, jumping time to each one's due time, until none is left. Returns how many ran. */
  runAll(): number {
    return this.run(Number.POSITIVE_INFINITY);
  }

  private run(until: number): number {
    if (this.running) {
      throw new FroctalError(
        "FROCTAL_E_REENTRANT",
        "VirtualClock.advance() or runAll() was called from inside a timer",
      );
    }
    this.running = true;
    let ran = 0;
    try {
      for (let timer = this.popDue(until); timer !== undefined; timer = this.popDue(until)) {
        if (ran === this.maxTimersPerRun) {
          this.insert(timer); // put back: the clock stays consistent for inspection
          throw new FroctalError(
            "FROCTAL_E_RUNAWAY",
            `VirtualClock ran ${ran} timers in one advance() or runAll() and more are due; ` +
              "a timer probably re-arms itself on every run (raise maxTimersPerRun if this is meant)",
          );
        }
        const fn = timer.fn!;
        timer.fn = undefined;
        this.live--;
        if (timer.due > this.time) this.time = timer.due;
        ran++;
        fn();
      }
    } finally {
      this.running = false;
    }
    return ran;
  }

  /** Removes and returns the earliest live timer due at or before `until`. */
  private popDue(until: number): Timer | undefined {
    // Bounded by the heap size: each pass drops one cancelled timer.
    for (;;) {
      const top = this.heap[0];
      if (top === undefined || top.due > until) return undefined;
      this.removeTop();
      if (top.fn !== undefined) return top;
    }
  }

  private compactIfSparse(): void {
    const dead = this.heap.length - this.live;
    if (dead < 64 || dead < this.live) return;
    const alive = this.heap.filter((t) => t.fn !== undefined);
    this.heap = [];
    for (const t of alive) this.insert(t);
  }

  private insert(timer: Timer): void {
    const heap = this.heap;
    let i = heap.length;
    heap.push(timer);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = heap[parent]!;
      if (!before(timer, p)) break;
      heap[i] = p;
      i = parent;
    }
    heap[i] = timer;
  }

  private removeTop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    const n = heap.length;
    if (n === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left;
      if (!before(heap[child]!, last)) break;
      heap[i] = heap[child]!;
      i = child;
    }
    heap[i] = last;
  }
}

function before(a: Timer, b: Timer): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}
