import { DEFAULT_LIMITS, MetricKind } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { MetricTable } from "./metrics.js";
import { createCounters } from "./stats.js";

const GAUGE = MetricKind.METRIC_KIND_GAUGE;
const COUNTER = MetricKind.METRIC_KIND_COUNTER;

function table(maxMetrics = 100) {
  const counters = createCounters();
  return { metrics: new MetricTable(DEFAULT_LIMITS, maxMetrics, counters), counters };
}

describe("MetricTable", () => {
  it("keeps only the latest value between flushes and counts what it coalesced", () => {
    const { metrics, counters } = table();
    const load = metrics.metric("load", GAUGE, "1");
    for (let i = 1; i <= 10; i++) metrics.set(load, i);
    const taken = metrics.take(100, 1 << 20);
    expect(taken.ids).toEqual([load.id]);
    expect(taken.values).toEqual([10]);
    expect(counters.coalesced).toBe(9);
    expect(metrics.take(100, 1 << 20).ids).toEqual([]);
  });

  it("declares an id once per connection, with its first sample", () => {
    const { metrics } = table();
    const a = metrics.metric("a", GAUGE);
    const b = metrics.metric("b", COUNTER, "requests");
    metrics.set(a, 1);
    metrics.set(b, 5);
    expect(metrics.take(100, 1 << 20).decls).toEqual([
      { id: a.id, name: "a", kind: GAUGE, unit: "" },
      { id: b.id, name: "b", kind: COUNTER, unit: "requests" },
    ]);
    metrics.set(a, 2);
    expect(metrics.take(100, 1 << 20).decls).toEqual([]);
    // A new connection: declarations are connection-scoped, and every known value goes again.
    metrics.reset();
    const again = metrics.take(100, 1 << 20);
    expect(again.decls.map((d) => d.name)).toEqual(["a", "b"]);
    expect(again.values).toEqual([2, 5]);
  });

  it("stops at the sample count and the byte budget, leaving the rest pending", () => {
    const { metrics } = table();
    for (let i = 0; i < 10; i++) metrics.set(metrics.metric(`m${i}`, GAUGE), i);
    expect(metrics.take(3, 1 << 20).ids).toHaveLength(3);
    const small = metrics.take(100, 60);
    expect(small.ids.length).toBeGreaterThan(0);
    expect(small.bytes).toBeLessThanOrEqual(60);
    expect(metrics.pending).toBe(7 - small.ids.length);
  });

  it("refuses bad names, kind changes, non-finite values and too many metrics", () => {
    const { metrics } = table(2);
    expect(() => metrics.metric("9lives", GAUGE)).toThrow(/not a valid metric name/);
    const a = metrics.metric("a", GAUGE);
    expect(() => metrics.metric("a", COUNTER)).toThrow(/already a gauge/);
    expect(() => metrics.set(a, Number.NaN)).toThrow(/finite/);
    metrics.metric("b", GAUGE);
    expect(() => metrics.metric("c", GAUGE)).toThrow(expect.objectContaining({ code: "FROCTAL_E_BUFFER_FULL" }));
  });
});
