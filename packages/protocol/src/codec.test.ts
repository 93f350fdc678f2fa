// What goes in comes back: every frame case field for field, 64-bit fields as
// plain numbers, hostile map keys as plain keys. Bad bytes: codec.malformed.test.ts;
// bytes from a later version: codec.unknown.test.ts.
import { describe, expect, it } from "vitest";
import { agentFrames, float64, lenField, managerFrames, plain, tag, u8, utf8, varint } from "../test/helpers.js";
import { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "./codec.js";
import type { CheckedAgentFrame, CheckedManagerFrame } from "./frames.js";
import { type AgentFrame, DeviceChange, type ManagerFrame } from "./wire.js";

// ---- round trips -------------------------------------------------------------

describe("round trip", () => {
  it.each(Object.entries(agentFrames))("AgentFrame %s comes back field for field", (name, frame) => {
    const decoded = decodeAgentFrame(encodeAgentFrame(frame));
    expect(decoded.frame).toBe(name);
    expect(plain(decoded)).toEqual(plain(frame));
  });

  it.each(Object.entries(managerFrames))("ManagerFrame %s comes back field for field", (name, frame) => {
    const decoded = decodeManagerFrame(encodeManagerFrame(frame));
    expect(decoded.frame).toBe(name);
    expect(plain(decoded)).toEqual(plain(frame));
  });

  it("narrows each event to its kind", () => {
    const decoded = decodeAgentFrame(encodeAgentFrame(agentFrames.batch));
    if (decoded.frame !== "batch") throw new Error(`decoded a ${decoded.frame}`);
    expect(decoded.batch.events.map((e) => e.kind)).toEqual(["device", "lifecycle", "app"]);
  });

  it("reads absent fields as their proto3 defaults", () => {
    const decoded = decodeAgentFrame(
      encodeAgentFrame({ hello: { minVersion: 1, maxVersion: 1, instanceId: "i", streamId: "s" } }),
    );
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(decoded.hello.token).toBe("");
    expect(decoded.hello.runningGeneration).toBe(0);
    const ping = decodeManagerFrame(encodeManagerFrame({ ping: {} }));
    expect(ping).toMatchObject({ frame: "ping", ping: { nonce: 0 } });
  });

  it("accepts repeated scalars unpacked, as every protobuf parser must", () => {
    const batch = [
      ...tag(1, 0),
      ...varint(1),
      ...lenField(3, [...tag(1, 0), 5, ...lenField(2, utf8("load")), ...tag(3, 0), 1]),
      ...tag(4, 0),
      5,
      ...tag(5, 1),
      ...float64(2.5),
      ...tag(4, 0),
      5,
      ...tag(5, 1),
      ...float64(-7),
    ];
    const decoded = decodeAgentFrame(u8(lenField(2, batch)));
    expect(decoded).toMatchObject({ frame: "batch", batch: { metricIds: [5, 5], metricValues: [2.5, -7] } });
  });
});

// ---- 64-bit fields -----------------------------------------------------------

describe("uint64 fields", () => {
  const values = [0, 1, 2 ** 32 + 5, Number.MAX_SAFE_INTEGER];
  const agent: [string, (v: number) => AgentFrame, (f: CheckedAgentFrame) => unknown][] = [
    [
      "hello.running_generation",
      (v) => ({ hello: { ...agentFrames.hello.hello, runningGeneration: v } }),
      (f) => f.frame === "hello" && f.hello.runningGeneration,
    ],
    ["batch.first_seq", (v) => ({ batch: { firstSeq: v } }), (f) => f.frame === "batch" && f.batch.firstSeq],
    ["batch.sent_at_ms", (v) => ({ batch: { sentAtMs: v } }), (f) => f.frame === "batch" && f.batch.sentAtMs],
    [
      "batch.events[0].at_ms",
      (v) => ({ batch: { firstSeq: 1, events: [{ ...agentFrames.batch.batch.events[0], atMs: v }] } }),
      (f) => f.frame === "batch" && f.batch.events[0]?.atMs,
    ],
    [
      "config_ack.generation",
      (v) => ({ configAck: { ...agentFrames.configAck.configAck, generation: v } }),
      (f) => f.frame === "configAck" && f.configAck.generation,
    ],
    [
      "config_ack.running_generation",
      (v) => ({ configAck: { ...agentFrames.configAck.configAck, runningGeneration: v } }),
      (f) => f.frame === "configAck" && f.configAck.runningGeneration,
    ],
    ["pong.nonce", (v) => ({ pong: { nonce: v } }), (f) => f.frame === "pong" && f.pong.nonce],
  ];
  const manager: [string, (v: number) => ManagerFrame, (f: CheckedManagerFrame) => unknown][] = [
    [
      "hello.acked_seq",
      (v) => ({ hello: { ...managerFrames.hello.hello, ackedSeq: v } }),
      (f) => f.frame === "hello" && f.hello.ackedSeq,
    ],
    ["ack.seq", (v) => ({ ack: { seq: v } }), (f) => f.frame === "ack" && f.ack.seq],
    [
      "prepare.generation",
      (v) => ({ prepare: { ...managerFrames.prepare.prepare, generation: v } }),
      (f) => f.frame === "prepare" && f.prepare.generation,
    ],
    [
      "commit.generation",
      (v) => ({ commit: { generation: v, nonce: "n" } }),
      (f) => f.frame === "commit" && f.commit.generation,
    ],
    [
      "abort.generation",
      (v) => ({ abort: { generation: v, nonce: "n" } }),
      (f) => f.frame === "abort" && f.abort.generation,
    ],
    ["ping.nonce", (v) => ({ ping: { nonce: v } }), (f) => f.frame === "ping" && f.ping.nonce],
  ];

  it.each(agent)("AgentFrame %s decodes to a plain number", (_path, make, read) => {
    for (const v of values) {
      const got = read(decodeAgentFrame(encodeAgentFrame(make(v))));
      expect(typeof got, `value ${v}`).toBe("number");
      expect(got).toBe(v);
    }
  });

  it.each(manager)("ManagerFrame %s decodes to a plain number", (_path, make, read) => {
    for (const v of values) {
      const got = read(decodeManagerFrame(encodeManagerFrame(make(v))));
      expect(typeof got, `value ${v}`).toBe("number");
      expect(got).toBe(v);
    }
  });
});

// ---- hostile map keys ------------------------------------------------------------

describe("device property keys", () => {
  const keys = ["__proto__", "toString", "constructor", "hasOwnProperty", "valueOf"];

  it("keeps __proto__, toString and friends as plain keys", () => {
    const prototypeBefore = Object.getOwnPropertyNames(Object.prototype);
    // JSON.parse makes "__proto__" an own key; an object literal would set the prototype.
    const properties = JSON.parse(JSON.stringify(Object.fromEntries(keys.map((k) => [k, `v-${k}`])))) as Record<
      string,
      string
    >;
    expect(Object.keys(properties)).toEqual(keys);
    const event = { atMs: 1, device: { change: DeviceChange.DEVICE_CHANGE_CHANGED, deviceId: "eth0", properties } };
    const bytes = encodeAgentFrame({ batch: { firstSeq: 1, events: [event] } });
    // The entries are really on the wire, "__proto__" included.
    expect(Buffer.from(bytes).includes(Buffer.from([...lenField(1, utf8("__proto__"))]))).toBe(true);

    const decoded = decodeAgentFrame(bytes);
    if (decoded.frame !== "batch") throw new Error(`decoded a ${decoded.frame}`);
    const e = decoded.batch.events[0];
    if (e?.kind !== "device") throw new Error("no device event");
    const props = e.device.properties;
    expect(Object.keys(props).sort()).toEqual([...keys].sort());
    for (const k of keys) expect(Object.getOwnPropertyDescriptor(props, k)?.value).toBe(`v-${k}`);
    expect([Object.prototype, null]).toContain(Object.getPrototypeOf(props));
    expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(prototypeBefore);
    expect(({} as Record<string, unknown>)["v-__proto__"]).toBeUndefined();

    // And the decoded frame encodes and decodes again to the same thing.
    expect(plain(decodeAgentFrame(encodeAgentFrame(decoded as AgentFrame)))).toEqual(plain(decoded));
  });
});
