import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { encodeAgentFrame } from "./codec.js";
import { encodeDelimited } from "./delimited.js";
import {
  encodeTraceHeader,
  encodeTraceRecord,
  MAX_TRACE_RECORD_BYTES,
  readTrace,
  TRACE_MAGIC,
  TRACE_VERSION,
} from "./trace.js";
import { ActionKind, ConfigAckStatus, type DecodedTraceRecord, DriverEventKind, type TraceRecord, v1 } from "./wire.js";

const concat = (...parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const start = {
  fleet: "autoscale",
  fleetId: "ab".repeat(16),
  nonceTag: "t1",
  startedAt: 12.5,
  startedWall: 1_700_000_000_000,
};
const header = encodeTraceHeader(start);

const RECORDS: TraceRecord[] = [
  { at: 1, token: "cd".repeat(16) },
  {
    at: 2,
    outcome: {
      kind: ActionKind.ACTION_KIND_START,
      service: "web",
      instanceId: "web-1",
      ordinal: 1,
      reason: "2 -> 3",
      ok: true,
      attempts: 1,
    },
  },
  { at: 3, driver: { kind: DriverEventKind.DRIVER_EVENT_KIND_EXITED, instanceId: "web-1", detail: "x", code: 0 } },
  { at: 4.25, opened: { minVersion: 1, maxVersion: 1, instanceId: "web-1", token: "t", streamId: "s" } },
  { at: 5, batch: { instanceId: "web-1", batch: { firstSeq: 1, metricIds: [1], metricValues: [130] } } },
  {
    at: 6,
    configAck: {
      instanceId: "web-1",
      ack: { generation: 2, nonce: "n", status: ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED },
    },
  },
  { at: 7, closed: { instanceId: "web-1", reason: "gone" } },
  { at: 8, tick: { inputs: 6 } },
];
const bodies = RECORDS.map(encodeTraceRecord);
const file = concat(header, ...bodies);
const offsets = bodies.map((_, i) => header.length + bodies.slice(0, i).reduce((n, b) => n + b.length, 0));

function readAll(bytes: Uint8Array): { entries: { offset: number; record: DecodedTraceRecord }[]; error?: unknown } {
  const entries: { offset: number; record: DecodedTraceRecord }[] = [];
  try {
    for (const e of readTrace(bytes).records()) entries.push(e);
    return { entries };
  } catch (error) {
    return { entries, error };
  }
}

describe("trace files", () => {
  it("read back the header and every record, in order, at their offsets", () => {
    const trace = readTrace(file);
    expect(trace.header.magic).toBe(TRACE_MAGIC);
    expect(trace.header.version).toBe(TRACE_VERSION);
    expect([trace.header.fleet, trace.header.fleetId, trace.header.nonceTag]).toEqual([
      "autoscale",
      "ab".repeat(16),
      "t1",
    ]);
    expect([trace.header.startedAt, trace.header.startedWall]).toEqual([12.5, 1_700_000_000_000]);
    expect(trace.headerBytes).toBe(header.length);
    const { entries, error } = readAll(file);
    expect(error).toBeUndefined();
    expect(entries.map((e) => e.offset)).toEqual(offsets);
    expect(entries.map((e) => e.record.record)).toEqual([
      "token",
      "outcome",
      "driver",
      "opened",
      "batch",
      "configAck",
      "closed",
      "tick",
    ]);
    expect(entries.map((e) => e.record.at)).toEqual([1, 2, 3, 4.25, 5, 6, 7, 8]);
    const [, outcome, driver, , batch, ack] = entries.map((e) => e.record);
    expect(outcome?.outcome?.instanceId).toBe("web-1");
    expect(outcome?.outcome?.kind).toBe(ActionKind.ACTION_KIND_START);
    expect(driver?.driver?.code).toBe(0);
    expect(batch?.batch?.batch?.metricValues).toEqual([130]);
    expect(ack?.configAck?.ack?.generation).toBe(2);
  });

  it("keep a driver event's absent exit code apart from code 0", () => {
    const rec = encodeTraceRecord({
      at: 1,
      driver: { kind: DriverEventKind.DRIVER_EVENT_KIND_STARTED, instanceId: "a" },
    });
    const [entry] = readAll(concat(header, rec)).entries;
    expect(entry?.record.driver?.code == null).toBe(true);
  });

  it("report a truncated tail at its offset after yielding everything before it, wherever the cut", () => {
    for (let cut = header.length + 1; cut < file.length; cut++) {
      const whole = offsets.filter((o, i) => o + bodies[i]!.length <= cut).length;
      const { entries, error } = readAll(file.subarray(0, cut));
      if (offsets.includes(cut)) {
        // A cut between records is a shorter, complete trace.
        expect(error).toBeUndefined();
        expect(entries.length).toBe(whole);
        continue;
      }
      expect(entries.length).toBe(whole);
      expect(error).toBeInstanceOf(FroctalError);
      expect((error as FroctalError).code).toBe("FROCTAL_E_TRACE");
      expect((error as FroctalError).message).toContain(
        `the trace is damaged at byte offset ${offsets[whole]}: truncated`,
      );
    }
  });

  it("refuse a foreign file naming byte 0", () => {
    const foreign = [
      new Uint8Array(0),
      new TextEncoder().encode("hello, this is a text file\n"),
      encodeDelimited(encodeAgentFrame({ hello: { minVersion: 1, maxVersion: 1, instanceId: "a" } })),
      header.subarray(0, header.length - 1),
    ];
    for (const bytes of foreign) {
      expect(() => readTrace(bytes)).toThrow(FroctalError);
      expect(() => readTrace(bytes)).toThrow(/^FROCTAL_E_TRACE: not a froctal trace \(at byte offset 0: /);
    }
  });

  it("refuse a trace of a format version it does not know", () => {
    const v2 = encodeDelimited(v1.TraceHeader.encode({ magic: TRACE_MAGIC, version: 2 }).finish());
    expect(() => readTrace(v2)).toThrow(
      "FROCTAL_E_TRACE: the trace is of format version 2; this froctal reads version 1 (at byte offset 0)",
    );
  });

  it("refuse, at its offset, a record that is not one, is empty, or claims more than the limit", () => {
    const garbage = concat(encodeDelimited(Uint8Array.of(0xff, 0xff, 0xff)));
    const empty = encodeTraceRecord({ at: 3 });
    const huge = Uint8Array.of(0x81, 0x80, 0x80, 0x08);
    const cases: [Uint8Array, string][] = [
      [garbage, "not a trace record"],
      [empty, "a record that carries nothing this froctal knows"],
      [huge, `a record of ${(1 << 24) + 1} bytes is over the limit of ${MAX_TRACE_RECORD_BYTES}`],
    ];
    for (const [tail, why] of cases) {
      const { entries, error } = readAll(concat(header, bodies[0]!, tail));
      expect(entries.length).toBe(1);
      expect((error as FroctalError).message).toContain(
        `FROCTAL_E_TRACE: the trace is damaged at byte offset ${header.length + bodies[0]!.length}: ${why}`,
      );
      expect((error as FroctalError).retryable).toBe(false);
    }
  });
});

describe("trace inputs", () => {
  it("are the records, typed, with their guest frames checked", () => {
    const inputs = [...readTrace(file).inputs()];
    expect(inputs.map((i) => i.kind)).toEqual([
      "token",
      "outcome",
      "exited",
      "opened",
      "batch",
      "configAck",
      "closed",
      "tick",
    ]);
    expect(inputs[1]).toEqual({
      at: 2,
      kind: "outcome",
      action: "start",
      service: "web",
      instanceId: "web-1",
      ordinal: 1,
      reason: "2 -> 3",
      ok: true,
      attempts: 1,
    });
    expect(inputs[2]).toEqual({ at: 3, kind: "exited", instanceId: "web-1", requested: false, code: 0, detail: "x" });
    expect(inputs[7]).toEqual({ at: 8, kind: "tick", inputs: 6 });
  });

  it("refuse, at its offset, a guest frame the contract refuses", () => {
    // A batch whose samples and values differ in length is refused from a guest, and so from a trace.
    const bad = encodeTraceRecord({
      at: 9,
      batch: { instanceId: "web-1", batch: { metricIds: [1, 2], metricValues: [1] } },
    });
    const bytes = concat(header, bodies[0]!, bad);
    const seen: string[] = [];
    let error: unknown;
    try {
      for (const i of readTrace(bytes).inputs()) seen.push(i.kind);
    } catch (e) {
      error = e;
    }
    expect(seen).toEqual(["token"]);
    expect((error as FroctalError).code).toBe("FROCTAL_E_TRACE");
    expect((error as FroctalError).message).toMatch(
      new RegExp(`^FROCTAL_E_TRACE: the trace record at byte offset ${header.length + bodies[0]!.length} is invalid: `),
    );
  });
});
