import { type CheckedManagerFrame, decodeManagerFrame, type ManagerFrame } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { resolveOptions } from "./options.js";
import { Outbound } from "./outbound.js";
import { createRecordingIngest } from "./recording-ingest.js";
import { createStats } from "./stats.js";
import type { Transport } from "./transport.js";

/** An Outbound over a transport that only records: pure logic, so no socket is needed (connection.test.ts has them). */
function setUp() {
  const written: string[] = [];
  const state = { open: true, buffered: 0 };
  const transport: Transport = {
    channel: { peer: "test" },
    write: (bytes) => written.push(show(decodeManagerFrame(bytes))),
    buffered: () => state.buffered,
    end: () => {},
    destroy: () => {},
  };
  const options = resolveOptions({
    ingest: createRecordingIngest({ tokens: new Map() }),
    limits: { maxFrameBytes: 64 },
    maxBufferedBytes: 100,
  });
  const stats = createStats();
  const outbound = new Outbound(transport, options, stats, () => state.open);
  return { outbound, written, state, stats };
}

/** A written frame as a line: "ack 9", "ping 1", "drain". */
function show(frame: CheckedManagerFrame): string {
  if (frame.frame === "ack") return `ack ${frame.ack.seq}`;
  if (frame.frame === "ping") return `ping ${frame.ping.nonce}`;
  return String(frame.frame);
}

const drain: ManagerFrame = { drain: { deadlineMs: 1_000, reason: "scale in" } };
/** The microtask the coalesced Ack waits for. */
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 0));

describe("Outbound", () => {
  it("sends while open, says false while backed up or closed, and counts only the backed-up sends", () => {
    const { outbound, written, state, stats } = setUp();
    expect(outbound.send(drain)).toBe(true);
    state.buffered = 101;
    expect(outbound.send(drain)).toBe(false);
    state.buffered = 0;
    state.open = false;
    expect(outbound.send(drain)).toBe(false);
    expect(written).toEqual(["drain"]);
    expect(stats.sendsBackedUp).toBe(1);
  });

  it("throws for a frame the agent would refuse as too large, and writes nothing", () => {
    const { outbound, written } = setUp();
    expect(() => outbound.send({ drain: { deadlineMs: 1, reason: "x".repeat(64) } })).toThrow(
      /^FROCTAL_E_FRAME_TOO_LARGE: a \w+ frame of 70 bytes is over the limit of 64 bytes$/,
    );
    expect(written).toEqual([]);
  });

  it("sends one Ack per turn, for the highest seq, and nothing at or below what the agent was told", async () => {
    const { outbound, written, stats } = setUp();
    outbound.start(5);
    outbound.ack(4);
    outbound.ack(5);
    await turn();
    expect(written).toEqual([]);
    outbound.ack(6);
    outbound.ack(9);
    outbound.ack(7);
    expect(written).toEqual([]);
    await turn();
    expect(written).toEqual(["ack 9"]);
    expect(stats.acksSent).toBe(1);
  });

  it("holds the Ack while backed up and sends it at the next flush; none once closed", async () => {
    const { outbound, written, state } = setUp();
    state.buffered = 101;
    outbound.ack(3);
    await turn();
    expect(written).toEqual([]);
    state.buffered = 0;
    outbound.flushAck();
    expect(written).toEqual(["ack 3"]);
    state.open = false;
    outbound.ack(4);
    outbound.flushAck();
    expect(written).toEqual(["ack 3"]);
  });

  it("refuses a seq the wire cannot carry as the manager's bug", () => {
    const { outbound } = setUp();
    expect(() => outbound.ack(-1)).toThrow(/^FROCTAL_E_INTERNAL: the acknowledged seq must be a whole number/);
    expect(() => outbound.ack(2 ** 53)).toThrow(/^FROCTAL_E_INTERNAL: /);
  });

  it("measures a round trip only for a pong that answers the latest ping", () => {
    const { outbound, written, stats } = setUp();
    expect(outbound.pong(0, 10)).toBeUndefined();
    outbound.ping(100);
    outbound.ping(200);
    expect(written).toEqual(["ping 1", "ping 2"]);
    expect(stats.pingsSent).toBe(2);
    expect(outbound.pong(1, 250)).toBeUndefined();
    expect(outbound.pong(2, 250)).toBe(50);
  });
});
