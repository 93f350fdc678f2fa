import { VirtualClock } from "@froctal/primitives";
import { comparer, observable, runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { effect } from "./effect.js";
import { createTicker } from "./ticker.js";

describe("effect", () => {
  it("runs once per tick with the tick's final value, after the tick's action", () => {
    const clock = new VirtualClock();
    const desired = observable.box(0);
    const ticker = createTicker<number>({
      clock,
      delayMs: 5,
      apply(items) {
        for (const n of items) desired.set(n);
      },
    });
    const runs: number[] = [];
    const stop = effect(
      () => desired.get(),
      (n) => runs.push(n),
      { onError: (e) => expect.fail(String(e)) },
    );
    ticker.push(1);
    ticker.push(2);
    ticker.push(3);
    clock.advance(5);
    ticker.push(3);
    clock.advance(5);
    ticker.push(7);
    clock.advance(5);
    stop();
    ticker.push(9);
    clock.advance(5);
    expect(runs).toEqual([3, 7]);
  });

  it("fires immediately when asked and honours equals", () => {
    const plan = observable.box<string[]>([]);
    const runs: string[][] = [];
    const stop = effect(
      () => plan.get(),
      (p) => runs.push(p),
      { fireImmediately: true, equals: comparer.structural, onError: () => {} },
    );
    runInAction(() => plan.set(["start a"]));
    runInAction(() => plan.set(["start a"]));
    stop();
    expect(runs).toEqual([[], ["start a"]]);
  });

  it("routes errors of read and run to onError and keeps running", () => {
    const n = observable.box(0);
    const errors: string[] = [];
    const runs: number[] = [];
    const stop = effect(
      () => {
        if (n.get() === 1) throw new Error("read failed");
        return n.get();
      },
      (v) => {
        if (v === 2) throw new Error("run failed");
        runs.push(v);
      },
      { onError: (e) => errors.push(String(e)) },
    );
    runInAction(() => n.set(1));
    runInAction(() => n.set(2));
    runInAction(() => n.set(3));
    stop();
    expect(errors).toEqual(["Error: read failed", "Error: run failed"]);
    expect(runs).toEqual([3]);
  });
});
