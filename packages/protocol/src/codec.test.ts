import { type ErrorCode, FroctalError } from "@froctal/primitives";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "./codec.js";
import type { CheckedAgentFrame, CheckedManagerFrame } from "./frames.js";
import { DEFAULT_LIMITS } from "./limits.js";
import {
  type AgentFrame,
  ConfigAckStatus,
  DeviceChange,
  LifecyclePhase,
  type ManagerFrame,
  MetricKind,
  v1,
} from "./wire.js";

// ---- helpers ---------------------------------------------------------------

/** Runs fn and returns the FroctalError it throws; fails the test on anything else. */
function thrown(fn: () => unknown): FroctalError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FroctalError) return error;
    throw new Error(`expected a FroctalError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a FroctalError, but nothing was thrown");
}

/**
 * A decoded message as a plain object. for...in, not Object.keys: a decoded
 * message keeps the defaults of absent fields on its prototype. null means an
 * absent sub-message and is dropped; bytes become number arrays so that a
 * Buffer and a Uint8Array with the same bytes compare equal.
 */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return Array.from(value);
  if (Array.isArray(value)) return value.map(plain);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const key in value) {
    const v = (value as Record<string, unknown>)[key];
    // defineProperty: a map key "__proto__" must stay a key.
    if (v !== null && v !== undefined) Object.defineProperty(out, key, { value: plain(v), enumerable: true });
  }
  return out;
}

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
const tag = (field: number, wireType: number): number[] => varint(field * 8 + wireType);
const lenField = (field: number, body: ArrayLike<number>): number[] => [
  ...tag(field, 2),
  ...varint(body.length),
  ...Array.from(body),
];
const u8 = (...parts: ArrayLike<number>[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
function float64(x: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, true);
  return Array.from(new Uint8Array(view.buffer));
}

// ---- sample frames: every case, every field set ------------------------------

const agentFrames = {
  hello: {
    hello: {
      minVersion: 1,
      maxVersion: 3,
      instanceId: "web-1",
      token: "t0k3n",
      build: {
        app: "web",
        appVersion: "1.2.3",
        agentVersion: "0.1.0",
        features: ["tls", "hotplug-nic"],
        platform: "node-20.20 linux x64",
      },
      streamId: "stream-a",
      runningGeneration: 7,
    },
  },
  batch: {
    batch: {
      firstSeq: 41,
      events: [
        {
          atMs: 1_700_000_000_001,
          device: {
            change: DeviceChange.DEVICE_CHANGE_ADDED,
            deviceId: "eth1",
            kind: "nic",
            properties: { speed_mbps: "10000", mac: "52:54:00:12:34:56" },
          },
        },
        {
          atMs: 1_700_000_000_002,
          lifecycle: {
            phase: LifecyclePhase.LIFECYCLE_PHASE_EXITED,
            task: "migrate",
            result: { ok: false, code: -3, valueJson: '{"rows":3}', error: "disk full" },
            detail: "task finished",
          },
        },
        {
          atMs: 1_700_000_000_003,
          app: { name: "cache.miss", payload: Uint8Array.of(0, 1, 255), mediaType: "application/octet-stream" },
        },
      ],
      metricDecls: [
        { id: 1, name: "load", kind: MetricKind.METRIC_KIND_GAUGE, unit: "1/s" },
        { id: 300, name: "requests_total", kind: MetricKind.METRIC_KIND_COUNTER, unit: "" },
      ],
      metricIds: [1, 300, 1],
      metricValues: [0.5, 123456789, -1e-300],
      sentAtMs: 1_700_000_000_123,
    },
  },
  configAck: {
    configAck: {
      generation: 12,
      nonce: "n-1",
      status: ConfigAckStatus.CONFIG_ACK_STATUS_NACKED,
      reason: "port 80 is taken",
      runningGeneration: 11,
    },
  },
  pong: { pong: { nonce: 2 ** 40 + 1 } },
} satisfies Record<NonNullable<AgentFrame["frame"]>, AgentFrame>;

const managerFrames = {
  hello: {
    hello: {
      version: 1,
      sessionId: "sess-1",
      ackedSeq: 40,
      maxFrameBytes: 1 << 20,
      maxBatchEvents: 4096,
      heartbeatMs: 5000,
    },
  },
  refuse: {
    refuse: { code: "FROCTAL_E_AUTH", reason: "the token does not match", retryable: true, retryAfterMs: 250 },
  },
  ack: { ack: { seq: 1_700_000_000_123 } },
  prepare: {
    prepare: {
      generation: 12,
      nonce: "n-1",
      config: utf8('{"port":8080}'),
      mediaType: "application/json",
      timeoutMs: 3000,
    },
  },
  commit: { commit: { generation: 12, nonce: "n-1" } },
  abort: { abort: { generation: 12, nonce: "n-1", reason: "router-b nacked" } },
  drain: { drain: { deadlineMs: 30_000, reason: "scale down" } },
  shutdown: { shutdown: { graceMs: 5000, reason: "drained" } },
  ping: { ping: { nonce: 2 ** 32 + 5 } },
} satisfies Record<NonNullable<ManagerFrame["frame"]>, ManagerFrame>;

afterEach(() => {
  vi.restoreAllMocks();
});

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

// ---- size limit --------------------------------------------------------------

describe("size limit", () => {
  const limits = { ...DEFAULT_LIMITS, maxFrameBytes: 64 };

  it("rejects an oversize AgentFrame before decoding it", () => {
    const decode = vi.spyOn(v1.AgentFrame, "decode");
    // Garbage: had it been decoded, the error would be FROCTAL_E_FRAME_MALFORMED.
    const err = thrown(() => decodeAgentFrame(new Uint8Array(65).fill(0xff), limits));
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(err.message).toContain("65 bytes");
    expect(err.message).toContain("64 bytes");
    expect(decode).not.toHaveBeenCalled();
  });

  it("rejects an oversize ManagerFrame before decoding it", () => {
    const decode = vi.spyOn(v1.ManagerFrame, "decode");
    const err = thrown(() => decodeManagerFrame(new Uint8Array(65).fill(0xff), limits));
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(decode).not.toHaveBeenCalled();
  });

  it("accepts a frame of exactly the limit and rejects one byte more", () => {
    const bytes = encodeAgentFrame(agentFrames.configAck);
    expect(decodeAgentFrame(bytes, { ...DEFAULT_LIMITS, maxFrameBytes: bytes.length }).frame).toBe("configAck");
    const err = thrown(() => decodeAgentFrame(bytes, { ...DEFAULT_LIMITS, maxFrameBytes: bytes.length - 1 }));
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
  });

  it("applies the default limit of 1 MiB", () => {
    expect(thrown(() => decodeAgentFrame(new Uint8Array(DEFAULT_LIMITS.maxFrameBytes + 1))).code).toBe(
      "FROCTAL_E_FRAME_TOO_LARGE",
    );
  });
});

// ---- malformed bytes -------------------------------------------------------------

describe("malformed bytes", () => {
  const cases: [string, Uint8Array][] = [
    // hello whose instance_id claims 10 bytes inside a 5-byte hello
    ["a truncated string", u8(tag(1, 2), [5], tag(3, 2), [10], utf8("abc"))],
    ["a string that is not UTF-8", u8(lenField(1, [...tag(3, 2), 2, 0xc3, 0x28]))],
    ["wire type 6", u8(tag(1, 6))],
    ["wire type 7", u8(tag(1, 7))],
    ["an end-group tag with no group", u8(tag(1, 4))],
    ["field number 0", u8([0x00, 0x00])],
    ["a varint longer than 10 bytes", u8(lenField(1, [...tag(7, 0), ...new Array(10).fill(0xff), 0x01]))],
    ["a tag longer than 5 bytes", u8(new Array(10).fill(0xff), [0x01])],
    ["a group that never ends", u8(tag(15, 3), tag(1, 0), [1])],
    ["a group closed with another field's end tag", u8(tag(15, 3), tag(16, 4))],
    ["a truncated double", u8(lenField(2, [...tag(5, 1), 1, 2, 3]))],
    ["a truncated packed double array", u8(lenField(2, [...tag(5, 2), 3, 1, 2, 3]))],
    ["unknown groups nested 200 deep", u8(...new Array(200).fill(tag(15, 3)), ...new Array(200).fill(tag(15, 4)))],
    [
      "unknown groups nested 200 deep inside a hello",
      u8(lenField(1, [...new Array(200).fill(tag(15, 3)).flat(), ...new Array(200).fill(tag(15, 4)).flat()])),
    ],
  ];

  it.each(cases)("%s is FROCTAL_E_FRAME_MALFORMED", (_name, bytes) => {
    const err = thrown(() => decodeAgentFrame(bytes));
    expect(err.code).toBe("FROCTAL_E_FRAME_MALFORMED");
    expect(err.message).toMatch(/^FROCTAL_E_FRAME_MALFORMED: the bytes are not a valid AgentFrame \(.+\)$/);
    expect(err.cause).toBeInstanceOf(Error);
  });

  it("names ManagerFrame when a ManagerFrame is malformed", () => {
    const err = thrown(() => decodeManagerFrame(u8(tag(1, 7))));
    expect(err.code).toBe("FROCTAL_E_FRAME_MALFORMED");
    expect(err.message).toContain("not a valid ManagerFrame");
  });

  it.each(Object.entries(agentFrames))("every truncation of AgentFrame %s is malformed", (_name, frame) => {
    const bytes = encodeAgentFrame(frame);
    for (let n = 1; n < bytes.length; n++) {
      expect(thrown(() => decodeAgentFrame(bytes.subarray(0, n))).code, `first ${n} bytes`).toBe(
        "FROCTAL_E_FRAME_MALFORMED",
      );
    }
  });

  it.each(Object.entries(managerFrames))("every truncation of ManagerFrame %s is malformed", (_name, frame) => {
    const bytes = encodeManagerFrame(frame);
    for (let n = 1; n < bytes.length; n++) {
      expect(thrown(() => decodeManagerFrame(bytes.subarray(0, n))).code, `first ${n} bytes`).toBe(
        "FROCTAL_E_FRAME_MALFORMED",
      );
    }
  });

  it("accepts unknown groups nested a few deep (they are unknown fields)", () => {
    const inner = [...v1.AgentHello.encode(agentFrames.hello.hello).finish()];
    const groups = [...new Array(10).fill(tag(15, 3)).flat(), ...new Array(10).fill(tag(15, 4)).flat()];
    const decoded = decodeAgentFrame(u8(lenField(1, [...inner, ...groups])));
    expect(plain(decoded)).toEqual(plain(agentFrames.hello));
  });

  // Whatever the bytes, the decoder answers with a frame or a FroctalError that
  // says the bytes are bad, never with an exception from inside protobufjs.
  const badInput: ErrorCode[] = ["FROCTAL_E_FRAME_MALFORMED", "FROCTAL_E_FRAME_INVALID"];
  const decodeEither = (bytes: Uint8Array): void => {
    for (const decode of [decodeAgentFrame, decodeManagerFrame]) {
      try {
        decode(bytes);
      } catch (error) {
        if (!(error instanceof FroctalError)) throw error;
        expect(badInput).toContain(error.code);
      }
    }
  };

  it("turns random bytes into a frame or a FroctalError", () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 512 }), decodeEither), { numRuns: 2000 });
  });

  it("turns corrupted valid frames into a frame or a FroctalError", () => {
    const valid = [
      ...Object.values(agentFrames).map(encodeAgentFrame),
      ...Object.values(managerFrames).map(encodeManagerFrame),
    ];
    fc.assert(
      fc.property(
        fc.constantFrom(...valid),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (frame, edits) => {
          const bytes = frame.slice();
          for (const [at, byte] of edits) bytes[at % bytes.length] = byte;
          decodeEither(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

// ---- unknown fields ----------------------------------------------------------

describe("unknown fields", () => {
  // One unknown field of every wire type, with field numbers the contract does not use.
  const unknowns = [
    ...tag(90, 0),
    ...varint(2 ** 31),
    ...tag(91, 1),
    ...float64(1.5),
    ...lenField(92, utf8("from a later version")),
    ...tag(93, 3),
    ...tag(1, 0),
    7,
    ...tag(93, 4),
    ...tag(94, 5),
    1,
    2,
    3,
    4,
  ];

  it("ignores unknown fields around the frame case and does not keep them", () => {
    const hello = encodeAgentFrame(agentFrames.hello);
    const decoded = decodeAgentFrame(u8(unknowns, hello, unknowns));
    expect(plain(decoded)).toEqual(plain(agentFrames.hello));
    expect(Object.hasOwn(decoded, "$unknowns")).toBe(false);
  });

  it("ignores unknown fields inside a message", () => {
    const hello = v1.AgentHello.encode(agentFrames.hello.hello).finish();
    const decoded = decodeAgentFrame(u8(lenField(1, [...unknowns, ...hello, ...unknowns])));
    expect(plain(decoded)).toEqual(plain(agentFrames.hello));
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(Object.hasOwn(decoded.hello, "$unknowns")).toBe(false);
  });

  it("ignores unknown fields inside a ManagerFrame", () => {
    const ack = encodeManagerFrame(managerFrames.ack);
    expect(plain(decodeManagerFrame(u8(unknowns, ack)))).toEqual(plain(managerFrames.ack));
  });

  it("refuses a frame that carries only a case from a later version", () => {
    const err = thrown(() => decodeAgentFrame(u8(lenField(20, utf8("future")))));
    expect(err.code).toBe("FROCTAL_E_FRAME_INVALID");
    expect(err.sentence).toMatch(/^frame /);
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
