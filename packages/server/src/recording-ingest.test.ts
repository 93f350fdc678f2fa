import type { AgentSession } from "@froctal/manager";
import { type Batch, type Hello, MetricKind } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { createRecordingIngest } from "./recording-ingest.js";

const tokens = new Map([["web-1", "secret-1"]]);
const build = { app: "web", appVersion: "1", agentVersion: "1", features: [], platform: "" };

function helloOf(fields: Partial<Hello> = {}): Hello {
  return {
    minVersion: 1,
    maxVersion: 1,
    instanceId: "web-1",
    token: "secret-1",
    streamId: "s1",
    build,
    runningGeneration: 0,
    ...fields,
  };
}

/** A session that records the acks it is given. */
function sessionOf(sessionId: string, streamId = "s1"): AgentSession & { readonly acks: number[] } {
  const acks: number[] = [];
  return {
    instanceId: "web-1",
    sessionId,
    streamId,
    acks,
    send: () => true,
    ack: (seq) => acks.push(seq),
    close: () => {},
  };
}

function batchOf(firstSeq: number, count: number, fields: Partial<Batch> = {}): Batch {
  return {
    firstSeq,
    events: Array.from({ length: count }, (_, i) => ({
      atMs: i,
      kind: "app" as const,
      app: { name: "e", payload: new Uint8Array([i]), mediaType: "" },
    })),
    metricDecls: [],
    metricIds: [],
    metricValues: [],
    sentAtMs: 0,
    ...fields,
  };
}

describe("createRecordingIngest", () => {
  it("admits a known instance with its token and refuses everyone else", () => {
    const ingest = createRecordingIngest({ tokens });
    const peer = { peer: "test" };
    expect(ingest.admit(helloOf(), peer)).toEqual({ ok: true, ackedSeq: 0 });
    expect(ingest.admit(helloOf({ token: "secret-2" }), peer)).toMatchObject({ ok: false, code: "FROCTAL_E_AUTH" });
    expect(ingest.admit(helloOf({ token: "" }), peer)).toMatchObject({ ok: false, code: "FROCTAL_E_AUTH" });
    expect(ingest.admit(helloOf({ instanceId: "db-1" }), peer)).toMatchObject({
      ok: false,
      code: "FROCTAL_E_AUTH",
      reason: "instance db-1 is unknown",
    });
  });

  it("admits on a per-instance channel without a token, only for that instance", () => {
    const ingest = createRecordingIngest({ tokens: new Map() });
    const channel = { peer: "vport vm-7", instanceId: "web-1" };
    expect(ingest.admit(helloOf({ token: "" }), channel)).toEqual({ ok: true, ackedSeq: 0 });
    expect(ingest.admit(helloOf({ instanceId: "web-2" }), channel)).toMatchObject({ ok: false });
  });

  it("applies each event once per (instance, stream, seq) and acks cumulatively", () => {
    const ingest = createRecordingIngest({ tokens });
    const first = sessionOf("a");
    ingest.opened(first, helloOf());
    ingest.batch(first, batchOf(1, 3));
    expect(first.acks).toEqual([3]);
    ingest.closed(first, "gone");
    expect(ingest.admit(helloOf(), { peer: "test" })).toEqual({ ok: true, ackedSeq: 3 });
    const second = sessionOf("b");
    ingest.opened(second, helloOf());
    ingest.batch(second, batchOf(2, 4));
    expect(second.acks).toEqual([5]);
    expect(ingest.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(ingest.anomalies.duplicates).toBe(2);
    // A new stream (the guest restarted) starts again at 1.
    const restarted = sessionOf("c", "s2");
    ingest.opened(restarted, helloOf({ streamId: "s2" }));
    ingest.batch(restarted, batchOf(1, 1));
    expect(restarted.acks).toEqual([1]);
    expect(ingest.appliedSeq("web-1", "s1")).toBe(5);
    expect(ingest.appliedSeq("web-1", "s2")).toBe(1);
  });

  it("takes a stream that skips seqs rather than stall it, and counts the gap", () => {
    const ingest = createRecordingIngest({ tokens });
    const session = sessionOf("a");
    ingest.opened(session, helloOf());
    ingest.batch(session, batchOf(101, 2));
    expect(session.acks).toEqual([102]);
    expect(ingest.anomalies.gaps).toBe(1);
  });

  it("resolves metric ids per session and keeps the latest value", () => {
    const ingest = createRecordingIngest({ tokens });
    const first = sessionOf("a");
    ingest.opened(first, helloOf());
    const decls = [
      { id: 1, name: "load", kind: MetricKind.METRIC_KIND_GAUGE, unit: "" },
      { id: 2, name: "requests", kind: MetricKind.METRIC_KIND_COUNTER, unit: "1" },
    ];
    ingest.batch(first, batchOf(0, 0, { metricDecls: decls, metricIds: [1, 2], metricValues: [0.5, 10] }));
    ingest.batch(first, batchOf(0, 0, { metricIds: [1], metricValues: [0.7] }));
    expect(ingest.metrics("web-1").get("load")?.value).toBe(0.7);
    expect(ingest.metrics("web-1").get("requests")).toMatchObject({ value: 10, kind: MetricKind.METRIC_KIND_COUNTER });
    // Ids are connection-scoped: a new session must declare them again.
    ingest.closed(first, "gone");
    const second = sessionOf("b");
    ingest.opened(second, helloOf());
    ingest.batch(second, batchOf(0, 0, { metricIds: [1], metricValues: [0.9] }));
    expect(ingest.metrics("web-1").get("load")?.value).toBe(0.7);
    expect(ingest.anomalies.undeclaredSamples).toBe(1);
  });

  it("tracks open sessions, keeps the replacing one, and tells subscribers", () => {
    const ingest = createRecordingIngest({ tokens });
    let changes = 0;
    const stop = ingest.subscribe(() => changes++);
    const old = sessionOf("a");
    const replacement = sessionOf("b");
    ingest.opened(old, helloOf());
    ingest.opened(replacement, helloOf());
    ingest.closed(old, "replaced");
    expect(ingest.sessions.get("web-1")).toBe(replacement);
    ingest.configAck(replacement, { generation: 2, nonce: "n", status: 1, reason: "", runningGeneration: 1 });
    expect(ingest.configAcks).toEqual([
      { instanceId: "web-1", sessionId: "b", ack: expect.objectContaining({ generation: 2 }) },
    ]);
    stop();
    ingest.closed(replacement, "gone");
    expect(changes).toBe(4);
    expect(ingest.sessions.size).toBe(0);
  });
});
