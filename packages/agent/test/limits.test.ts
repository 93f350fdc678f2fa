import { DEFAULT_LIMITS } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import type { FroctalError } from "../src/index.js";
import { testAgent } from "./agents.js";
import { appEvents, Cleanup, type Kind, sleep, socketPath, startManager, waitFor } from "./harness.js";
import { managerHello, startRawManager } from "./raw-manager.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe("the bounded outbox", () => {
  it("'reject': the emitting call throws FROCTAL_E_BUFFER_FULL and nothing queued is lost", async () => {
    const path = socketPath();
    const agent = cleanup.add(testAgent(`unix:${path}`, { buffer: { maxEvents: 5, overflow: "reject" } }));
    for (let i = 1; i <= 5; i++) agent.event("e", i);
    expect(() => agent.event("e", 6)).toThrow(expect.objectContaining({ code: "FROCTAL_E_BUFFER_FULL" }));
    expect(() => agent.ready()).toThrow(expect.objectContaining({ code: "FROCTAL_E_BUFFER_FULL" }));
    expect(agent.stats).toMatchObject({ queued: 5, rejected: 2, dropped: 0, buffered: 5 });
    const m = cleanup.add(await startManager("unix", { path }));
    await waitFor("delivery", () => agent.stats.acked === 5);
    expect(appEvents(m.ingest).map(([seq, , v]) => [seq, v])).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
      [4, 4],
      [5, 5],
    ]);
    agent.event("e", 6); // room again once acked
    await waitFor("the sixth", () => agent.stats.acked === 6);
  });

  it("'drop-oldest': the oldest events make room, counted, and the manager sees the gap", async () => {
    const path = socketPath();
    const agent = cleanup.add(testAgent(`unix:${path}`, { buffer: { maxEvents: 5, overflow: "drop-oldest" } }));
    for (let i = 1; i <= 8; i++) agent.event("e", i);
    expect(agent.stats).toMatchObject({ queued: 8, dropped: 3, rejected: 0, buffered: 5 });
    const m = cleanup.add(await startManager("unix", { path }));
    await waitFor("delivery", () => agent.stats.acked === 5);
    expect(appEvents(m.ingest).map(([seq]) => seq)).toEqual([4, 5, 6, 7, 8]);
    expect(m.ingest.anomalies).toMatchObject({ duplicates: 0, gaps: 1 });
  });
});

describe.each<Kind>(["ws", "unix"])("the manager's limits over %s", (kind) => {
  it("splits batches to stay under max_batch_events and max_frame_bytes", async () => {
    const m = cleanup.add(await startManager(kind, { limits: { maxFrameBytes: 2048, maxBatchEvents: 7 } }));
    const agent = cleanup.add(testAgent(m.url));
    const errors: FroctalError[] = [];
    agent.on("error", (e) => errors.push(e));
    await agent.connected;
    for (let i = 0; i < 300; i++) agent.event("chunk", "x".repeat(i % 400));
    for (let i = 0; i < 200; i++) agent.gauge(`gauge_${i}`, i);
    await waitFor("everything", () => agent.stats.acked === 300 && m.ingest.metrics("web-1").size === 200);
    expect(agent.stats.frames).toBeGreaterThan(300 / 7);
    expect(errors).toEqual([]);
    expect(agent.stats.reconnects).toBe(0);
  });

  it("rejects an app event over the payload or frame limit at the call, before anything is sent", async () => {
    const m = cleanup.add(await startManager(kind, { limits: { maxFrameBytes: 4096 } }));
    const agent = cleanup.add(testAgent(m.url));
    expect(() => agent.event("huge", new Uint8Array(DEFAULT_LIMITS.maxPayloadBytes + 1))).toThrow(
      expect.objectContaining({ code: "FROCTAL_E_FRAME_TOO_LARGE" }),
    );
    await agent.connected;
    // Within the payload limit, but over the frame limit this manager announced.
    expect(() => agent.event("big", new Uint8Array(5000))).toThrow(
      expect.objectContaining({ code: "FROCTAL_E_FRAME_TOO_LARGE" }),
    );
    expect(agent.stats.queued).toBe(0);
    agent.event("fits", new Uint8Array(3000));
    await waitFor("the one that fits", () => agent.stats.acked === 1);
    expect(m.ingest.events).toHaveLength(1);
  });

  it("gives up on a queued event the manager's frames cannot carry, reports it, and goes on", async () => {
    const m = cleanup.add(
      await startRawManager(kind, (conn, frame) => {
        if (frame.frame === "hello") conn.send(managerHello({ maxFrameBytes: 1024 }));
        if (frame.frame === "batch" && frame.batch.events.length) {
          conn.send({ ack: { seq: frame.batch.firstSeq + frame.batch.events.length - 1 } });
        }
      }),
    );
    const agent = cleanup.add(testAgent(m.url));
    const errors: FroctalError[] = [];
    agent.on("error", (e) => errors.push(e));
    agent.event("small", 1);
    agent.event("big", "y".repeat(3000)); // queued before the manager said 1024
    agent.event("small", 3);
    await waitFor("acks", () => agent.stats.buffered === 0);
    const batches = m.connections[0]!.frames.flatMap((f) => (f.frame === "batch" ? [f.batch] : []));
    expect(batches.flatMap((b) => b.events.map((_, i) => b.firstSeq + i))).toEqual([1, 3]);
    expect(agent.stats).toMatchObject({ dropped: 1, acked: 2 });
    expect(errors.map((e) => e.code)).toEqual(["FROCTAL_E_FRAME_TOO_LARGE"]);
  });
});

describe.each<Kind>(["ws", "unix"])("backpressure over %s", (kind) => {
  it("stops writing while the manager does not read, coalesces gauges, and catches up after", async () => {
    const raw = cleanup.add(await startRawManager(kind));
    const agent = cleanup.add(testAgent(raw.url, { highWaterMark: 1024 }));
    await agent.connected;
    const conn = raw.connections[0]!;
    conn.pause();
    // Fill the kernel's socket buffers until writes queue up in the process.
    for (let i = 0; i < 200 && agent.stats.backpressured === 0; i++) {
      for (let j = 0; j < 20; j++) agent.event("fill", "z".repeat(16_000));
      await sleep(5);
    }
    expect(agent.stats.backpressured).toBeGreaterThan(0);
    const samplesBefore = agent.stats.samples;
    for (let v = 1; v <= 1000; v++) agent.gauge("load", v);
    await sleep(30);
    expect(agent.stats.samples).toBe(samplesBefore);
    expect(agent.stats.coalesced).toBe(999);
    conn.resume();
    const loads = () => conn.frames.flatMap((f) => (f.frame === "batch" ? [...f.batch.metricValues] : []));
    await waitFor("catch-up", () => agent.stats.buffered === 0 && loads().length > 0, 10_000);
    // A thousand values while backed up; one sample, the latest, on the wire.
    expect(loads()).toEqual([1000]);
    expect(agent.stats.samples).toBe(samplesBefore + 1);
  });
});
