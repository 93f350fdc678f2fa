import type { Clock, Disposer } from "@froctal/primitives";
import { FroctalError } from "@froctal/primitives";
import { action } from "mobx";

export interface TickerOptions<T> {
  /** Schedules the ticks. */
  readonly clock: Clock;
  /** How long a tick window stays open after its first push; 0 means the next turn of the clock. */
  readonly delayMs: number;
  /**
   * Applies one tick's items, inside one MobX action. The array is lent, not
   * given: it is emptied and reused once apply returns, so copy what you keep.
   * It must not await: whatever runs after its first await is outside the tick.
   */
  apply(items: readonly T[]): void;
  /** Items per tick; the rest waits for the next tick, one turn later. Unlimited unless given. */
  readonly maxItemsPerTick?: number;
  /**
   * How many ticks in a row may be fed only by pushes made during the previous
   * tick (its apply or the reactions it triggered) before the ticker stops as a
   * runaway; 100 unless given, like MobX's MAX_REACTION_ITERATIONS.
   */
  readonly maxChainedTicks?: number;
  /**
   * Where errors go: a throwing apply (the ticker carries on with the next
   * tick) and a runaway (the ticker has stopped). Unless given they are thrown
   * from the tick: into the clock's timer, or out of flush().
   */
  readonly onError?: (error: unknown) => void;
  /** Names the ticker in MobX's tools and in error sentences. */
  readonly name?: string;
}

/**
 * The upper bounds, ms and inclusive, of the tick-duration histogram's buckets
 * (TickerStats.tickBuckets); a last bucket past them counts longer ticks.
 * Fixed, so keeping them is a scan of 8 numbers a tick; they span 0.1 ms (a
 * tick of a few inputs) to 0.5 s (a tick long enough to stall what follows).
 */
export const TICK_BUCKET_BOUNDS_MS: readonly number[] = [0.1, 0.5, 1, 5, 10, 50, 100, 500];

/** Counters, updated in place: read them whenever, they cost nothing to keep. */
export interface TickerStats {
  /** Ticks run (apply called). */
  readonly ticks: number;
  /** Items handed to apply. */
  readonly applied: number;
  /** Items pushed and not yet applied. */
  readonly pending: number;
  /** Items dropped: pushed after dispose() or a runaway, or pending when either happened. */
  readonly dropped: number;
  /** Ticks whose apply threw. */
  readonly errors: number;
  /** The largest batch handed to apply. */
  readonly maxBatch: number;
  /** Time spent in apply (and the reactions it ran), summed over ticks, ms on the injected clock. */
  readonly busyMs: number;
  /** The longest single tick, ms on the injected clock. */
  readonly maxTickMs: number;
  /**
   * Ticks by duration, NOT cumulative: entry i counts ticks that took more
   * than TICK_BUCKET_BOUNDS_MS[i - 1] and at most TICK_BUCKET_BOUNDS_MS[i]; the
   * last entry (index TICK_BUCKET_BOUNDS_MS.length) counts the ones longer than
   * every bound. They sum to ticks; a histogram's cumulative buckets are their
   * running sums. One array for the ticker's life, updated in place.
   */
  readonly tickBuckets: readonly number[];
}

export type TickerState = "open" | "disposed" | "failed";

export interface Ticker<T> {
  /** Queues an item for the next tick. O(1), no allocation beyond the array slot. */
  push(item: T): void;
  /**
   * Runs ticks now, until nothing is pending, including items pushed while it
   * runs (bounded by maxChainedTicks). Throws FROCTAL_E_REENTRANT from inside apply.
   */
  flush(): void;
  /** Stops the ticker: cancels its timer and drops (and counts) what is pending; flush() first to apply it. */
  dispose(): void;
  readonly stats: TickerStats;
  readonly state: TickerState;
}

/**
 * The synchrony hypothesis as a scheduler. Items pushed during a tick window
 * are applied together, in push order, in ONE MobX action, so derivations and
 * reactions run once per tick and never see half a tick. Reactions run when
 * that action ends, still inside the tick, so what they push lands in the
 * next tick, never this one.
 *
 * A tick is scheduled on the clock only when something is pending, and at
 * most one timer is armed at a time. Pending items sit in chunks of at most
 * maxItemsPerTick: push() appends to the last chunk, a tick takes the first
 * chunk whole, and the emptied array is kept to be the next chunk, so nothing
 * is ever copied. Two loops are bounded: a backlog larger than a tick is
 * carried to the next tick (one turn later, 0 ms, so I/O gets in between),
 * and a chain of ticks each fed only by the previous one stops with
 * FROCTAL_E_RUNAWAY after maxChainedTicks; pending items pushed from outside a
 * tick reset the chain, so a reaction that answers each external push is fine.
 */
export function createTicker<T>(options: TickerOptions<T>): Ticker<T> {
  const { clock, delayMs, onError } = options;
  const name = options.name ?? "ticker";
  const maxItems = options.maxItemsPerTick ?? Number.POSITIVE_INFINITY;
  const maxChained = options.maxChainedTicks ?? 100;
  if (!(delayMs >= 0) || !Number.isFinite(delayMs)) {
    throw new FroctalError("FROCTAL_E_CONFIG", `${name}: delayMs must be a finite number >= 0, got ${delayMs}`);
  }
  if (!(maxItems >= 1)) {
    throw new FroctalError("FROCTAL_E_CONFIG", `${name}: maxItemsPerTick must be at least 1, got ${maxItems}`);
  }
  if (!(maxChained >= 1)) {
    throw new FroctalError("FROCTAL_E_CONFIG", `${name}: maxChainedTicks must be at least 1, got ${maxChained}`);
  }
  const applyInAction = action(`${name}.tick`, options.apply);

  const stats = {
    ticks: 0,
    applied: 0,
    pending: 0,
    dropped: 0,
    errors: 0,
    maxBatch: 0,
    busyMs: 0,
    maxTickMs: 0,
    tickBuckets: TICK_BUCKET_BOUNDS_MS.map(() => 0).concat(0),
  };
  let state: TickerState = "open";
  // FIFO of chunks, each at most maxItems long; the last one takes pushes.
  const chunks: T[][] = [[]];
  let tail = chunks[0]!;
  let spare: T[] | undefined = [];
  let timer: Disposer | undefined;
  let applying = false;
  // Runaway detection: `pushed` numbers the items, so pending items are
  // [stats.applied, pushed) and an outside push is still pending while its
  // number is >= stats.applied.
  let pushed = 0;
  let lastOutside = -1;
  let pushedInside = false;
  let chain = 0;
  let nextDelay = delayMs;

  const report = (error: unknown): void => {
    if (onError === undefined) throw error;
    onError(error);
  };

  const dropPending = (): void => {
    stats.dropped += stats.pending;
    stats.pending = 0;
    chunks.length = 1;
    tail = chunks[0] = [];
    timer?.();
    timer = undefined;
  };

  const onTimer = (): void => {
    timer = undefined;
    try {
      tick();
    } finally {
      armIfPending();
    }
  };

  const armIfPending = (): void => {
    if (state === "open" && stats.pending > 0 && timer === undefined && !applying) {
      timer = clock.setTimeout(onTimer, nextDelay);
    }
  };

  /** Runs one tick: takes the first chunk and applies it. */
  const tick = (): void => {
    if (state !== "open" || stats.pending === 0) return;
    // Pending work from outside resets the chain; a tick fed by its predecessor
    // extends it; a tick that only carries an older backlog leaves it as is.
    if (lastOutside >= stats.applied) chain = 0;
    else if (pushedInside) chain++;
    pushedInside = false;
    if (chain > maxChained) {
      const error = new FroctalError(
        "FROCTAL_E_RUNAWAY",
        `${name} ran ${maxChained} ticks in a row fed only by items pushed while applying the tick before; ` +
          "a reaction probably pushes on every tick (a derive -> push -> derive cycle). " +
          `The ticker has stopped and dropped ${stats.pending} pending item(s).`,
      );
      state = "failed";
      dropPending();
      report(error);
      return;
    }

    const batch = chunks[0]!;
    if (chunks.length === 1) {
      tail = chunks[0] = spare ?? [];
      spare = undefined;
    } else {
      chunks.shift();
    }
    stats.pending -= batch.length;
    // A backlog left after taking this batch is carried at once; pushes made by the tick wait a full window.
    nextDelay = stats.pending > 0 ? 0 : delayMs;
    stats.ticks++;
    stats.applied += batch.length;
    if (batch.length > stats.maxBatch) stats.maxBatch = batch.length;

    applying = true;
    let failure: { error: unknown } | undefined;
    // Two clock reads a tick, not a signal: what /metrics reports as tick time.
    const began = clock.now();
    try {
      applyInAction(batch);
    } catch (error) {
      stats.errors++;
      failure = { error };
    } finally {
      applying = false;
      batch.length = 0;
      spare = batch;
      const took = clock.now() - began;
      stats.busyMs += took;
      if (took > stats.maxTickMs) stats.maxTickMs = took;
      // A fixed scan of 8 bounds: O(1) a tick, nothing allocated.
      let bucket = 0;
      while (bucket < TICK_BUCKET_BOUNDS_MS.length && took > TICK_BUCKET_BOUNDS_MS[bucket]!) bucket++;
      stats.tickBuckets[bucket] = stats.tickBuckets[bucket]! + 1;
    }
    if (failure !== undefined) report(failure.error);
  };

  return {
    push(item: T): void {
      if (state !== "open") {
        stats.dropped++;
        return;
      }
      if (tail.length >= maxItems) {
        tail = spare ?? [];
        spare = undefined;
        chunks.push(tail);
      }
      tail.push(item);
      stats.pending++;
      if (applying) {
        pushedInside = true;
      } else {
        lastOutside = pushed;
        if (timer === undefined) timer = clock.setTimeout(onTimer, delayMs);
      }
      pushed++;
    },

    flush(): void {
      if (applying) {
        throw new FroctalError("FROCTAL_E_REENTRANT", `${name}.flush() was called from inside its own tick`);
      }
      timer?.();
      timer = undefined;
      try {
        // Bounded: each tick consumes a chunk of what is pending, and a tick fed
        // only by its predecessor counts toward maxChainedTicks.
        while (state === "open" && stats.pending > 0) tick();
      } finally {
        armIfPending();
      }
    },

    dispose(): void {
      if (state !== "open") return;
      state = "disposed";
      dropPending();
    },

    stats,
    get state(): TickerState {
      return state;
    },
  };
}
