import { DEFAULT_LIMITS, decodeAgentFrame, MetricKind } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { takeBatch } from "./batch.js";
import { MetricTable } from "./metrics.js";
import { Outbox } from "./outbox.js";
import { appEvent, measureEvent } from "./signals.js";
import { createCounters } from "./stats.js";

function setup() {
  const counters = createCounters();
  const outbox = new Outbox({ maxEvents: 10_000, maxBytes: 1 << 24, overflow: "reject" }, counters);
  const metrics = new MetricTable(DEFAULT_LIMITS, 1000, counters);
  const push = (name: string, payload: unknown) => {
    const e = appEvent(1_700_000_000_000, name, payload);
    return outbox.push(e, measureEvent(e, DEFAULT_LIMITS), name);
  };
  return { counters, outbox, metrics, push };
}

function drain(s: ReturnType<typeof setup>, limits: Parameters<typeof takeBatch>[2]) {
  const frames = [];
  for (;;) {
    const cut = takeBatch(s.outbox, s.metrics, limits, 1_700_000_000_000);
    if (!cut) return frames;
    if (!cut.bytes) continue;
    expect(cut.bytes.length).toBeLessThanOrEqual(limits.maxFrameBytes);
    const frame = decodeAgentFrame(cut.bytes, { ...DEFAULT_LIMITS, ...limits });
    if (frame.frame !== "batch") throw new Error("not a batch");
    frames.push(frame.batch);
  }
}

describe("takeBatch", () => {
  it("splits on the manager's max batch events, with contiguous sequence numbers", () => {
    const s = setup();
    for (let i = 0; i < 10; i++) s.push("e", i);
    const batches = drain(s, { maxFrameBytes: 1 << 20, maxBatchEvents: 4, maxBatchSamples: 100 });
    expect(batches.map((b) => [b.firstSeq, b.events.length])).toEqual([
      [1, 4],
      [5, 4],
      [9, 2],
    ]);
    expect(s.counters.sent).toBe(10);
  });

  it("splits on the frame byte limit, exactly filling frames without passing it", () => {
    const s = setup();
    for (let i = 0; i < 50; i++) s.push("blob", "x".repeat(200));
    const batches = drain(s, { maxFrameBytes: 1000, maxBatchEvents: 4096, maxBatchSamples: 100 });
    expect(batches.length).toBeGreaterThan(10);
    expect(batches.reduce((n, b) => n + b.events.length, 0)).toBe(50);
    let next = 1;
    for (const b of batches) {
      expect(b.firstSeq).toBe(next);
      next += b.events.length;
    }
  });

  it("packs samples, with their declarations, into the room the events leave", () => {
    const s = setup();
    s.push("e", 1);
    for (let i = 0; i < 300; i++) s.metrics.set(s.metrics.metric(`metric_${i}`, MetricKind.METRIC_KIND_GAUGE), i);
    const batches = drain(s, { maxFrameBytes: 1024, maxBatchEvents: 4096, maxBatchSamples: 100 });
    const ids = batches.flatMap((b) => [...b.metricIds]);
    expect(ids).toHaveLength(300);
    expect(new Set(ids).size).toBe(300);
    for (const b of batches) {
      expect(b.metricIds.length).toBeLessThanOrEqual(100);
      // Every sample's id is declared in its own batch on this connection (first sample).
      expect(b.metricDecls.map((d) => d.id)).toEqual([...b.metricIds]);
    }
  });

  it("gives up on an event larger than the manager's frames, and goes on with the rest", () => {
    const s = setup();
    s.push("small", 1);
    s.push("big", "y".repeat(3000));
    s.push("small", 2);
    const cuts = [];
    for (;;) {
      const cut = takeBatch(s.outbox, s.metrics, { maxFrameBytes: 1024, maxBatchEvents: 100, maxBatchSamples: 10 }, 0);
      if (!cut) break;
      cuts.push(cut);
    }
    expect(cuts.map((c) => [c.events, c.skipped.map((h) => h.seq)])).toEqual([
      [1, []],
      [1, [2]],
    ]);
    const second = decodeAgentFrame(cuts[1]!.bytes!);
    expect(second.frame === "batch" && second.batch.firstSeq).toBe(3);
  });

  it("returns nothing when idle, and an empty batch when asked for a heartbeat", () => {
    const s = setup();
    const limits = { maxFrameBytes: 1024, maxBatchEvents: 100, maxBatchSamples: 10 };
    expect(takeBatch(s.outbox, s.metrics, limits, 5)).toBeUndefined();
    const beat = takeBatch(s.outbox, s.metrics, limits, 5, true);
    const frame = decodeAgentFrame(beat!.bytes!);
    expect(frame.frame === "batch" && frame.batch.events.length).toBe(0);
  });
});
