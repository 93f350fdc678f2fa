import fc from "fast-check";
import { autorun, runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { Aggregate, type MetricSlot } from "./aggregate.js";

/** The instance-keyed view the tests speak: one slot per id, as the store keeps one per (instance, metric). */
function keyed(a: Aggregate) {
  const slots = new Map<string, MetricSlot>();
  return {
    set(id: string, value: number): boolean {
      let slot = slots.get(id);
      if (slot === undefined) {
        slot = a.join();
        slots.set(id, slot);
      }
      return a.update(slot, value);
    },
    delete(id: string): boolean {
      const slot = slots.get(id);
      if (slot === undefined) return false;
      slots.delete(id);
      return a.leave(slot);
    },
    get(id: string): number | undefined {
      const slot = slots.get(id) ?? a.join();
      return a.read(slot);
    },
  };
}

/** Publishes as the store does: inside the tick's action. */
const publish = (a: Aggregate): void => runInAction(() => a.publish());

/** Nearest rank, in integers: the smallest value with at least p% of the values at or below it. */
function nearestRank(values: readonly number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const rank = Math.max(1, Math.floor((p * s.length + 99) / 100));
  return s[rank - 1]!;
}

describe("Aggregate", () => {
  it("reads 0 everywhere when nobody reports", () => {
    const a = new Aggregate("load");
    const _ka = keyed(a);
    expect([a.sum, a.count, a.mean, a.max, a.min, a.percentile(50)]).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("keeps each instance's latest value and the sum, count and mean of them", () => {
    const a = new Aggregate("load");
    const ka = keyed(a);
    ka.set("a", 2);
    ka.set("b", 4);
    ka.set("a", 6);
    publish(a);
    expect([a.sum, a.count, a.mean, a.min, a.max]).toEqual([10, 2, 5, 4, 6]);
    expect(ka.get("a")).toBe(6);
    ka.delete("a");
    publish(a);
    expect([a.sum, a.count, a.mean, ka.get("a")]).toEqual([4, 1, 4, undefined]);
  });

  it("says it became dirty once per tick, and not for no change", () => {
    const a = new Aggregate("load");
    const ka = keyed(a);
    expect(ka.set("a", 1)).toBe(true);
    expect(ka.set("b", 1)).toBe(false);
    expect(a.dirty).toBe(true);
    publish(a);
    expect(a.dirty).toBe(false);
    expect(ka.set("a", 1)).toBe(false);
    expect(ka.delete("nobody")).toBe(false);
    expect(a.dirty).toBe(false);
    expect(ka.delete("a")).toBe(true);
  });

  it("lets derivations re-run once per publish, however many samples the tick carried", () => {
    const a = new Aggregate("load");
    const ka = keyed(a);
    const seen: number[] = [];
    const dispose = autorun(() => seen.push(a.sum));
    for (let i = 0; i < 100; i++) ka.set(`i${i}`, 1);
    ka.delete("i0");
    expect(seen).toEqual([0]);
    publish(a);
    expect(seen).toEqual([0, 99]);
    dispose();
  });

  it("recomputes max, min and percentiles after a publish, not before", () => {
    const a = new Aggregate("load");
    const ka = keyed(a);
    const maxes: number[] = [];
    const dispose = autorun(() => maxes.push(a.max));
    ka.set("a", 3);
    publish(a);
    ka.set("b", 7);
    publish(a);
    ka.delete("b");
    publish(a);
    expect(maxes).toEqual([0, 3, 7, 3]);
    dispose();
  });

  it("lets a derivation that reads one instance's value re-run when it changes", () => {
    const a = new Aggregate("load");
    const ka = keyed(a);
    ka.set("a", 1);
    publish(a);
    const seen: (number | undefined)[] = [];
    const dispose = autorun(() => seen.push(ka.get("a")));
    ka.set("a", 2);
    publish(a);
    expect(seen).toEqual([1, 2]);
    dispose();
  });

  it("takes percentiles by nearest rank", () => {
    const a = new Aggregate("latency");
    const ka = keyed(a);
    for (let i = 1; i <= 100; i++) ka.set(`i${i}`, 101 - i);
    publish(a);
    expect([0, 1, 7, 29, 50, 90, 99, 100].map((p) => a.percentile(p))).toEqual([1, 1, 7, 29, 50, 90, 99, 100]);
    expect(a.percentile(-5)).toBe(1);
    expect(a.percentile(250)).toBe(100);
    const b = new Aggregate("x");
    const kb = keyed(b);
    for (const [id, v] of [
      ["a", 10],
      ["b", 20],
      ["c", 30],
      ["d", 40],
    ] as const)
      kb.set(id, v);
    publish(b);
    expect([25, 26, 50, 51, 75, 76, 100].map((p) => b.percentile(p))).toEqual([10, 20, 20, 30, 30, 40, 40]);
  });

  it("takes the nearest rank for every whole p and up to 150 values (no rounding off by one)", () => {
    const a = new Aggregate("x");
    const ka = keyed(a);
    for (let n = 1; n <= 150; n++) {
      ka.set(`i${n}`, n);
      publish(a);
      const values = Array.from({ length: n }, (_, i) => i + 1);
      for (let p = 0; p <= 100; p++)
        if (a.percentile(p) !== nearestRank(values, p)) expect({ n, p, got: a.percentile(p) }).toBe(null);
    }
  });

  it("does not drift once empty", () => {
    const a = new Aggregate("x");
    const ka = keyed(a);
    ka.set("a", 0.1);
    ka.set("b", 0.2);
    ka.set("c", 0.3);
    ka.delete("a");
    ka.delete("b");
    ka.delete("c");
    publish(a);
    expect(a.sum).toBe(0);
  });
});

type Op =
  | { readonly kind: "set"; readonly id: number; readonly value: number }
  | { readonly kind: "delete"; readonly id: number }
  | { readonly kind: "publish" };

const opsArb = (value: fc.Arbitrary<number>) =>
  fc.array(
    fc.oneof(
      { weight: 5, arbitrary: fc.record({ kind: fc.constant("set" as const), id: fc.nat(9), value }) },
      { weight: 2, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: fc.nat(9) }) },
      { weight: 1, arbitrary: fc.constant({ kind: "publish" as const }) },
    ),
    { maxLength: 200 },
  );

/** Applies the ops to an aggregate and to a plain map; calls `check` after every publish. */
function replay(
  ops: readonly Op[],
  check: (a: Aggregate, naive: ReadonlyMap<string, number>, ka: ReturnType<typeof keyed>) => void,
): void {
  const a = new Aggregate("m");
  const ka = keyed(a);
  const naive = new Map<string, number>();
  for (const op of [...ops, { kind: "publish" } as const]) {
    if (op.kind === "set") {
      ka.set(`i${op.id}`, op.value);
      naive.set(`i${op.id}`, op.value);
    } else if (op.kind === "delete") {
      ka.delete(`i${op.id}`);
      naive.delete(`i${op.id}`);
    } else {
      publish(a);
      check(a, naive, ka);
    }
  }
}

describe("Aggregate (properties)", () => {
  it("sum, count, mean, min, max and percentiles equal a naive recomputation (integers: exactly)", () => {
    fc.assert(
      fc.property(
        opsArb(fc.integer({ min: -1_000_000, max: 1_000_000 })),
        fc.integer({ min: 0, max: 100 }),
        (ops, p) => {
          replay(ops, (a, naive, ka) => {
            const values = [...naive.values()];
            const sum = values.reduce((x, y) => x + y, 0);
            expect(a.sum).toBe(sum);
            expect(a.count).toBe(values.length);
            expect(a.mean).toBe(values.length === 0 ? 0 : sum / values.length);
            expect(a.max).toBe(values.length === 0 ? 0 : Math.max(...values));
            expect(a.min).toBe(values.length === 0 ? 0 : Math.min(...values));
            expect(a.percentile(p)).toBe(nearestRank(values, p));
            for (const [id, v] of naive) expect(ka.get(id)).toBe(v);
          });
        },
      ),
    );
  });

  it("percentile(p) is the nearest-rank value for every whole p", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: -50, max: 50 }), { maxLength: 150 }),
        fc.integer({ min: 0, max: 100 }),
        (values, p) => {
          const a = new Aggregate("m");
          const ka = keyed(a);
          for (const [i, v] of values.entries()) ka.set(`i${i}`, v);
          publish(a);
          expect(a.percentile(p)).toBe(nearestRank(values, p));
        },
      ),
    );
  });

  it("with fractional values the running sum stays within rounding of the naive sum", () => {
    fc.assert(
      fc.property(opsArb(fc.double({ min: 0, max: 1_000, noNaN: true })), (ops) => {
        replay(ops, (a, naive, _ka) => {
          const values = [...naive.values()];
          const sum = values.reduce((x, y) => x + y, 0);
          expect(Math.abs(a.sum - sum)).toBeLessThanOrEqual(1e-9 * Math.max(1, ...values) * ops.length);
          if (values.length === 0) expect(a.sum).toBe(0);
        });
      }),
    );
  });
});

describe("Aggregate (order statistics, incremental)", () => {
  /** Counts reads of each slot's value, to see how much of the aggregate a read of max touches. */
  function counted(a: Aggregate, n: number) {
    let reads = 0;
    const slots = Array.from({ length: n }, () => {
      const slot = a.join();
      let value = 0;
      Object.defineProperty(slot, "value", {
        get: () => {
          reads++;
          return value;
        },
        set: (v: number) => {
          value = v;
        },
      });
      return slot;
    });
    return { slots, reads: () => reads };
  }

  it("re-reads only the changed values for max, min and percentiles, not every member", () => {
    const a = new Aggregate("load");
    const { slots, reads } = counted(a, 10_000);
    runInAction(() => {
      for (const [i, slot] of slots.entries()) a.update(slot, i);
      a.publish();
    });
    expect([a.max, a.min, a.percentile(50)]).toEqual([9_999, 0, 4_999]);
    const before = reads();
    runInAction(() => {
      a.update(slots[5]!, 20_000);
      a.update(slots[6]!, -1);
      a.publish();
    });
    expect([a.max, a.min, a.percentile(50), a.percentile(100)]).toEqual([20_000, -1, 5_000, 20_000]);
    // The two updates (old and new value each) and catching the order up on the two slots: a handful, not 10,000.
    expect(reads() - before).toBeLessThanOrEqual(8);
  });

  it("a NaN sample neither breaks the order nor stays in it once replaced", () => {
    const a = new Aggregate("x");
    const ka = keyed(a);
    ka.set("a", 3);
    ka.set("b", Number.NaN);
    ka.set("c", 1);
    publish(a);
    expect(a.count).toBe(3);
    expect(a.max).toBe(3);
    ka.set("b", 2);
    ka.delete("c");
    publish(a);
    expect([a.min, a.max, a.percentile(50), a.count]).toEqual([2, 3, 2, 2]);
  });

  it("max, min and percentiles read between changes equal a naive recomputation (many members, ties)", () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            {
              weight: 6,
              arbitrary: fc.record({
                kind: fc.constant("set" as const),
                id: fc.nat(199),
                value: fc.integer({ min: -20, max: 20 }),
              }),
            },
            { weight: 3, arbitrary: fc.record({ kind: fc.constant("delete" as const), id: fc.nat(199) }) },
            { weight: 1, arbitrary: fc.constant({ kind: "publish" as const }) },
          ),
          { maxLength: 600 },
        ),
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 1, maxLength: 5 }),
        (ops, ps) => {
          replay(ops, (a, naive) => {
            const values = [...naive.values()];
            expect(a.max).toBe(values.length === 0 ? 0 : Math.max(...values));
            expect(a.min).toBe(values.length === 0 ? 0 : Math.min(...values));
            for (const p of ps) expect(a.percentile(p)).toBe(nearestRank(values, p));
          });
        },
      ),
    );
  });
});

describe("Aggregate (what it keeps)", () => {
  it("keeps the order right when it is not read for more changes than it has members", () => {
    const a = new Aggregate("x");
    const ka = keyed(a);
    for (let i = 0; i < 10; i++) ka.set(`i${i}`, i);
    publish(a);
    expect(a.max).toBe(9);
    const naive = new Map<string, number>();
    for (let i = 0; i < 10; i++) naive.set(`i${i}`, i);
    for (let round = 0; round < 300; round++) {
      const id = `j${round}`;
      ka.set(id, 100 + round);
      ka.delete(id); // a short-lived instance, gone before anyone reads the order
      ka.set(`i${round % 10}`, round);
      naive.set(`i${round % 10}`, round);
    }
    publish(a);
    const values = [...naive.values()];
    expect([a.max, a.min, a.percentile(50), a.count]).toEqual([
      Math.max(...values),
      Math.min(...values),
      nearestRank(values, 50),
      10,
    ]);
  });

  it("makes a slot's own atom only for a derivation, and lets it go when nobody reads it", () => {
    const a = new Aggregate("x");
    const slot = a.join();
    const other = a.join();
    runInAction(() => {
      a.update(slot, 1);
      a.update(other, 5);
      a.publish();
    });
    expect([a.read(slot), a.read(other)]).toEqual([1, 5]);
    expect(a.observedSlots).toBe(0);
    const seen: (number | undefined)[] = [];
    const dispose = autorun(() => seen.push(a.read(slot)));
    expect(a.observedSlots).toBe(1);
    runInAction(() => {
      a.update(other, 6);
      a.publish();
    });
    runInAction(() => {
      a.update(slot, 2);
      a.publish();
    });
    dispose();
    expect(a.observedSlots).toBe(0);
    expect(seen).toEqual([1, 2]);
  });
});
