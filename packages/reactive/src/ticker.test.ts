import { VirtualClock } from "@froctal/primitives";
import { autorun, observable, reaction } from "mobx";
import { describe, expect, it } from "vitest";
import { createTicker, TICK_BUCKET_BOUNDS_MS, type TickerOptions } from "./ticker.js";

/** A ticker on a virtual clock that records each batch (copied: the array is lent). */
function setup(options: Partial<TickerOptions<number>> = {}) {
  const clock = new VirtualClock();
  const batches: number[][] = [];
  const ticker = createTicker<number>({
    clock,
    delayMs: 10,
    apply: (items) => batches.push([...items]),
    ...options,
  });
  return { clock, batches, ticker };
}

describe("createTicker", () => {
  it("applies everything pushed in one window as one batch, in push order", () => {
    const { clock, batches, ticker } = setup();
    ticker.push(1);
    clock.advance(4);
    ticker.push(2);
    ticker.push(3);
    clock.advance(5);
    expect(batches).toEqual([]);
    clock.advance(1);
    expect(batches).toEqual([[1, 2, 3]]);
    ticker.push(4);
    clock.advance(10);
    expect(batches).toEqual([[1, 2, 3], [4]]);
    expect(ticker.stats).toMatchObject({ ticks: 2, applied: 4, pending: 0, maxBatch: 3 });
  });

  it("applies a tick in one action: a reaction runs once per tick and sees it whole", () => {
    const clock = new VirtualClock();
    const total = observable.box(0);
    const count = observable.box(0);
    const ticker = createTicker<number>({
      clock,
      delayMs: 0,
      apply(items) {
        for (const n of items) {
          total.set(total.get() + n);
          count.set(count.get() + 1);
        }
      },
    });
    const seen: string[] = [];
    const stop = autorun(() => seen.push(`${count.get()}:${total.get()}`));
    for (let i = 1; i <= 100; i++) ticker.push(i);
    clock.advance(0);
    stop();
    expect(seen).toEqual(["0:0", "100:5050"]);
  });

  it("arms no timer while idle and at most one at a time; delay 0 is the next turn", () => {
    const { clock, batches, ticker } = setup({ delayMs: 0 });
    expect(clock.pending).toBe(0);
    ticker.push(1);
    ticker.push(2);
    expect(clock.pending).toBe(1);
    expect(batches).toEqual([]);
    clock.advance(0);
    expect(batches).toEqual([[1, 2]]);
    expect(clock.pending).toBe(0);
  });

  it("sends pushes made during apply and its reactions to the next tick", () => {
    const clock = new VirtualClock();
    const batches: string[][] = [];
    const last = observable.box("");
    const ticker = createTicker<string>({
      clock,
      delayMs: 10,
      apply(items) {
        batches.push([...items]);
        if (items.includes("a")) ticker.push("from apply");
        last.set(items[items.length - 1]!);
      },
    });
    const stop = reaction(
      () => last.get(),
      (v) => {
        if (v === "a") ticker.push("from reaction");
      },
    );
    ticker.push("a");
    clock.advance(10);
    expect(batches).toEqual([["a"]]);
    expect(clock.pending).toBe(1);
    clock.advance(9);
    expect(batches).toHaveLength(1);
    clock.advance(1);
    expect(batches).toEqual([["a"], ["from apply", "from reaction"]]);
    stop();
  });

  it("caps a tick at maxItemsPerTick and carries the rest one turn later, letting other timers in between", () => {
    const { clock, batches, ticker } = setup({ maxItemsPerTick: 3 });
    const log: string[] = [];
    for (let i = 1; i <= 8; i++) ticker.push(i);
    clock.setTimeout(() => log.push(`io after ${batches.length} tick(s)`), 10);
    clock.advance(9);
    expect(batches).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(["io after 1 tick(s)"]);
    expect(batches).toEqual([
      [1, 2, 3],
      [4, 5, 6],
      [7, 8],
    ]);
    expect(ticker.stats).toMatchObject({ ticks: 3, pending: 0, maxBatch: 3 });
    expect(clock.now()).toBe(10);
    expect(clock.pending).toBe(0);
  });

  it("stops a reaction that pushes on every tick with FROCTAL_E_RUNAWAY", () => {
    const clock = new VirtualClock();
    const errors: unknown[] = [];
    const n = observable.box(0);
    const ticker = createTicker<number>({
      clock,
      delayMs: 0,
      maxChainedTicks: 5,
      name: "ingest",
      apply: (items) => n.set(items[0]!),
      onError: (e) => errors.push(e),
    });
    const stop = reaction(
      () => n.get(),
      (v) => ticker.push(v + 1),
    );
    ticker.push(1);
    clock.runAll();
    stop();
    expect(n.get()).toBe(6); // the external tick and 5 chained ones
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(
      /^FroctalError: FROCTAL_E_RUNAWAY: ingest ran 5 ticks in a row fed only by items pushed while applying the tick before; a reaction probably pushes on every tick/,
    );
    expect(ticker.state).toBe("failed");
    expect(ticker.stats.dropped).toBe(1);
    ticker.push(100);
    expect(ticker.stats.dropped).toBe(2);
    expect(clock.pending).toBe(0);
  });

  it("throws a runaway out of the tick when there is no onError", () => {
    const clock = new VirtualClock();
    const ticker = createTicker<number>({
      clock,
      delayMs: 1,
      maxChainedTicks: 3,
      apply: (items) => ticker.push(items[0]!),
    });
    ticker.push(0);
    expect(() => clock.runAll()).toThrow(/FROCTAL_E_RUNAWAY/);
    ticker.push(0);
    expect(() => ticker.flush()).not.toThrow();
  });

  it("does not call a reaction that answers each external push a runaway, even behind a backlog", () => {
    const clock = new VirtualClock();
    let echoes = 0;
    const ticker = createTicker<string>({
      clock,
      delayMs: 1,
      maxItemsPerTick: 2,
      maxChainedTicks: 3,
      apply(items) {
        if (items.some((i) => i !== "echo")) ticker.push("echo");
        else echoes += items.length;
      },
    });
    for (let round = 0; round < 50; round++) {
      ticker.push("a");
      clock.advance(1);
    }
    for (let i = 0; i < 40; i++) ticker.push("burst");
    clock.runAll();
    expect(ticker.state).toBe("open");
    expect(echoes).toBeGreaterThan(0);
    expect(ticker.stats.pending).toBe(0);
  });

  it("reports a throwing apply and carries on with the next tick", () => {
    const errors: unknown[] = [];
    const { clock, batches, ticker } = setup({
      apply(items) {
        if (items.includes(13)) throw new Error("unlucky");
        batches.push([...items]);
      },
      onError: (e) => errors.push(e),
    });
    ticker.push(13);
    clock.advance(10);
    ticker.push(14);
    clock.advance(10);
    expect(errors.map(String)).toEqual(["Error: unlucky"]);
    expect(batches).toEqual([[14]]);
    expect(ticker.stats).toMatchObject({ errors: 1, ticks: 2, applied: 2 });
  });

  it("without onError a throwing apply throws into the clock and the next push still ticks", () => {
    const { clock, batches, ticker } = setup({
      apply(items) {
        if (items.includes(13)) throw new Error("unlucky");
        batches.push([...items]);
      },
    });
    ticker.push(13);
    expect(() => clock.advance(10)).toThrow("unlucky");
    ticker.push(14);
    clock.advance(10);
    expect(batches).toEqual([[14]]);
  });

  it("flush() applies now, cancels the timer and refuses to run inside apply", () => {
    const clock = new VirtualClock();
    const batches: number[][] = [];
    let inner: unknown;
    const ticker = createTicker<number>({
      clock,
      delayMs: 10,
      maxItemsPerTick: 2,
      apply(items) {
        batches.push([...items]);
        try {
          ticker.flush();
        } catch (e) {
          inner = e;
        }
      },
    });
    for (let i = 0; i < 5; i++) ticker.push(i);
    expect(clock.pending).toBe(1);
    ticker.flush();
    expect(batches).toEqual([[0, 1], [2, 3], [4]]);
    expect(clock.pending).toBe(0);
    expect(String(inner)).toMatch(/FROCTAL_E_REENTRANT/);
  });

  it("dispose() cancels the timer and drops and counts what is pending and pushed later", () => {
    const { clock, batches, ticker } = setup();
    ticker.push(1);
    ticker.push(2);
    ticker.dispose();
    ticker.dispose();
    ticker.push(3);
    clock.runAll();
    expect(batches).toEqual([]);
    expect(clock.pending).toBe(0);
    expect(ticker.state).toBe("disposed");
    expect(ticker.stats).toMatchObject({ dropped: 3, pending: 0 });
  });

  it("lends its arrays: apply gets the same two arrays in turn", () => {
    const clock = new VirtualClock();
    const arrays = new Set<readonly number[]>();
    const ticker = createTicker<number>({ clock, delayMs: 0, apply: (items) => arrays.add(items) });
    for (let round = 0; round < 10; round++) {
      ticker.push(round);
      clock.advance(0);
    }
    expect(arrays.size).toBe(2);
  });

  it("sums the time ticks take, and keeps the longest, on its own clock", () => {
    const virtual = new VirtualClock();
    // Each apply takes as many ms as the items it is given say; a throwing one is timed too.
    let spent = 0;
    const clock = { now: () => spent, wallNow: () => spent, setTimeout: virtual.setTimeout.bind(virtual) };
    const ticker = createTicker<number>({
      clock,
      delayMs: 0,
      apply: (items) => {
        for (const ms of items) spent += ms;
        if (items.includes(7)) throw new Error("boom");
      },
      onError: () => {},
    });
    for (const batch of [[3], [4, 1], [7]]) {
      for (const ms of batch) ticker.push(ms);
      virtual.advance(0);
    }
    expect(ticker.stats).toMatchObject({ ticks: 3, errors: 1, busyMs: 15, maxTickMs: 7 });
  });

  it("counts ticks into duration buckets whose upper bounds are inclusive", () => {
    const clock = new VirtualClock();
    // Each apply moves the virtual clock on by the ms its items say: ticks of known duration.
    const ticker = createTicker<number>({
      clock,
      delayMs: 1_000,
      apply: (items) => {
        for (const ms of items) clock.advance(ms);
      },
    });
    expect(TICK_BUCKET_BOUNDS_MS).toEqual([0.1, 0.5, 1, 5, 10, 50, 100, 500]);
    expect(ticker.stats.tickBuckets).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const run = (batches: number[][]) => {
      for (const batch of batches) {
        for (const ms of batch) ticker.push(ms);
        ticker.flush();
      }
    };
    // Bounds are inclusive: 0 and 0.1 fall in the first bucket, 0.25 in the second.
    run([[0], [0.1], [0.25]]);
    // Back onto a whole ms, so that the durations below come out exact (0.35 + 0.65 === 1).
    clock.advance(0.65);
    expect(clock.now()).toBe(1);
    // 1, 5, 7 (3 + 4 in one tick), 50 and 100 one to a bucket; 100.5 and 500 in (100, 500]; 501 and 1000 past every bound.
    run([[1], [5], [3, 4], [50], [100], [100.5], [500], [501], [1_000]]);
    expect(ticker.stats.tickBuckets).toEqual([2, 1, 1, 1, 1, 1, 1, 2, 2]);
    expect(ticker.stats).toMatchObject({ ticks: 12, maxTickMs: 1_000 });
    expect(ticker.stats.busyMs).toBeCloseTo(2_264.85, 9);
    // Counted in place: the same array, read by reference (as /metrics does).
    const buckets = ticker.stats.tickBuckets;
    ticker.push(0.4);
    ticker.flush();
    expect(buckets).toBe(ticker.stats.tickBuckets);
    expect(buckets).toEqual([2, 2, 1, 1, 1, 1, 1, 2, 2]);
  });

  it("refuses invalid options", () => {
    const clock = new VirtualClock();
    const apply = () => {};
    expect(() => createTicker({ clock, delayMs: -1, apply })).toThrow(/FROCTAL_E_CONFIG.*delayMs/);
    expect(() => createTicker({ clock, delayMs: Number.NaN, apply })).toThrow(/FROCTAL_E_CONFIG/);
    expect(() => createTicker({ clock, delayMs: 0, apply, maxItemsPerTick: 0 })).toThrow(/maxItemsPerTick/);
    expect(() => createTicker({ clock, delayMs: 0, apply, maxChainedTicks: 0 })).toThrow(/maxChainedTicks/);
  });
});
