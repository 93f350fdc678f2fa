import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "./codec.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { validateAgentFrame, validateManagerFrame } from "./validate.js";
import {
  type AgentFrame,
  type AgentHello,
  ConfigAckStatus,
  DeviceChange,
  type Event,
  LifecyclePhase,
  type ManagerFrame,
  MetricKind,
  type SignalBatch,
} from "./wire.js";

// Small limits, so that going one over each is cheap. The valid frames below sit
// exactly at these limits wherever they can, so every "one more" test is a boundary.
const LIMITS: Limits = {
  maxFrameBytes: 1 << 20,
  maxBatchEvents: 3,
  maxBatchSamples: 2,
  maxNameLength: 16,
  maxTextLength: 32,
  maxProperties: 2,
  maxPayloadBytes: 8,
};
const TOO_BIG = 2 ** 53; // the first integer a double cannot tell from its neighbour

const long = (n: number, c = "a"): string => c.repeat(n);
/** A number the contract's enum does not have, past the type checker. */
const notInEnum = (n: number): never => n as never;

const hello = (): AgentHello => ({
  minVersion: 1,
  maxVersion: 2,
  instanceId: long(16, "i"),
  token: long(512, "t"),
  streamId: "s@host:1.2_3-x",
  runningGeneration: Number.MAX_SAFE_INTEGER,
  build: {
    app: long(16),
    appVersion: long(16),
    agentVersion: long(16),
    features: ["tls", "hotplug-nic"],
    platform: long(16),
  },
});

const device = (): Event => ({
  atMs: Number.MAX_SAFE_INTEGER,
  device: {
    change: DeviceChange.DEVICE_CHANGE_CHANGED,
    deviceId: "eth0@pci:00_1.a-",
    kind: "",
    properties: { [long(16, "k")]: long(32, "v"), mac: "" },
  },
});
const lifecycle = (): Event => ({
  atMs: 1,
  lifecycle: {
    phase: LifecyclePhase.LIFECYCLE_PHASE_EXITED,
    task: "",
    detail: long(32),
    result: { ok: true, code: 0, valueJson: long(8), error: long(32) },
  },
});
const app = (): Event => ({
  atMs: 2,
  app: { name: "a.b:c_d-e", payload: new Uint8Array(8), mediaType: long(16) },
});

const batch = (): SignalBatch => ({
  firstSeq: 1,
  sentAtMs: 3,
  events: [device(), lifecycle(), app()],
  metricDecls: [
    { id: 1, name: "load", kind: MetricKind.METRIC_KIND_GAUGE, unit: long(16) },
    { id: 2, name: "requests_total", kind: MetricKind.METRIC_KIND_COUNTER, unit: "" },
  ],
  metricIds: [1, 2],
  metricValues: [-1.5, Number.MAX_VALUE],
});

const configAck = () => ({
  generation: 3,
  nonce: long(16),
  status: ConfigAckStatus.CONFIG_ACK_STATUS_ABORTED,
  reason: long(32),
  runningGeneration: 2,
});

/** Validates through the wire: encode, then decode (which validates). */
const agent = (frame: AgentFrame) => decodeAgentFrame(encodeAgentFrame(frame), LIMITS);
const manager = (frame: ManagerFrame) => decodeManagerFrame(encodeManagerFrame(frame), LIMITS);

/** Asserts that run fails validation, and that the reason starts with the field path. */
function expectInvalid(run: () => unknown, path: string, problem?: RegExp): void {
  let error: unknown;
  try {
    run();
  } catch (e) {
    error = e;
  }
  expect(error, `${path}: nothing was thrown`).toBeInstanceOf(FroctalError);
  const err = error as FroctalError;
  expect(err.code).toBe("FROCTAL_E_FRAME_INVALID");
  expect(err.message.startsWith(`FROCTAL_E_FRAME_INVALID: ${path} `), err.message).toBe(true);
  if (problem) expect(err.sentence.slice(path.length + 1)).toMatch(problem);
}

const withBatch = (change: (b: SignalBatch) => void): AgentFrame => {
  const b = batch();
  change(b);
  return { batch: b };
};
const withHello = (change: (h: AgentHello) => void): AgentFrame => {
  const h = hello();
  change(h);
  return { hello: h };
};
/** The batch with event i replaced. */
const withEvent = (i: number, event: Event): AgentFrame =>
  withBatch((b) => {
    b.events![i] = event;
  });

describe("valid frames", () => {
  it("accepts frames that sit at every limit", () => {
    expect(agent({ hello: hello() }).frame).toBe("hello");
    expect(agent({ batch: batch() }).frame).toBe("batch");
    expect(agent({ configAck: configAck() }).frame).toBe("configAck");
    expect(agent({ pong: { nonce: Number.MAX_SAFE_INTEGER } }).frame).toBe("pong");
    expect(agent({ batch: {} }).frame).toBe("batch");
  });

  it("gives a hello without build info an empty build", () => {
    const decoded = agent(withHello((h) => delete h.build));
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(decoded.hello.build).toEqual({ app: "", appVersion: "", agentVersion: "", features: [], platform: "" });
  });

  it("keeps the build a hello carries", () => {
    const decoded = agent({ hello: hello() });
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(decoded.hello.build.features).toEqual(["tls", "hotplug-nic"]);
    expect(decoded.hello.build.app).toBe(long(16));
  });

  it("accepts every ManagerFrame case", () => {
    for (const frame of [
      { hello: { version: 1, sessionId: long(16), ackedSeq: Number.MAX_SAFE_INTEGER } },
      { refuse: { code: long(16), reason: long(32), retryable: true, retryAfterMs: 1 } },
      { ack: { seq: 1 } },
      { prepare: { generation: 1, nonce: long(16), config: new Uint8Array(8), mediaType: long(16), timeoutMs: 1 } },
      { commit: { generation: 1, nonce: long(16) } },
      { abort: { generation: 1, nonce: long(16), reason: long(32) } },
      { drain: { deadlineMs: 1, reason: long(32) } },
      { shutdown: { graceMs: 1, reason: long(32) } },
      { ping: { nonce: 1 } },
    ] satisfies ManagerFrame[]) {
      expect(() => manager(frame)).not.toThrow();
    }
  });
});

describe("AgentFrame rules", () => {
  it("refuses a frame with no case (empty bytes)", () => {
    expectInvalid(() => decodeAgentFrame(new Uint8Array(0)), "frame", /carries no case/);
  });

  const cases: [string, AgentFrame, RegExp?][] = [
    // hello
    [
      "hello.min_version",
      withHello((h) => {
        h.minVersion = 3;
      }),
      /is above max_version/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = "";
      }),
      /is empty/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = "web 1";
      }),
      /not a valid instance id: "web 1"/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = "-web";
      }),
      /not a valid instance id/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = long(17, "i");
      }),
      /is 17 characters long; the limit is 16/,
    ],
    [
      "hello.token",
      withHello((h) => {
        h.token = long(513, "t");
      }),
      /is 513 characters long; the limit is 512/,
    ],
    [
      "hello.stream_id",
      withHello((h) => {
        h.streamId = "";
      }),
      /is empty/,
    ],
    [
      "hello.stream_id",
      withHello((h) => {
        h.streamId = "s/1";
      }),
      /not a valid stream id/,
    ],
    [
      "hello.running_generation",
      withHello((h) => {
        h.runningGeneration = TOO_BIG;
      }),
      /must be a whole number from 0 to 2\^53/,
    ],
    [
      "hello.build.app",
      withHello((h) => {
        h.build!.app = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.app_version",
      withHello((h) => {
        h.build!.appVersion = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.agent_version",
      withHello((h) => {
        h.build!.agentVersion = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.platform",
      withHello((h) => {
        h.build!.platform = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.features",
      withHello((h) => {
        h.build!.features = ["a", "b", "c"];
      }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "hello.build.features[1]",
      withHello((h) => {
        h.build!.features = ["tls", "no spaces"];
      }),
      /not a valid feature name/,
    ],
    [
      "hello.build.features[0]",
      withHello((h) => {
        h.build!.features = [""];
      }),
      /is empty/,
    ],

    // batch
    [
      "batch.first_seq",
      withBatch((b) => {
        b.firstSeq = 0;
      }),
      /must be at least 1 when the batch has events/,
    ],
    [
      "batch.first_seq",
      withBatch((b) => {
        b.firstSeq = TOO_BIG;
      }),
      /whole number/,
    ],
    [
      "batch.sent_at_ms",
      withBatch((b) => {
        b.sentAtMs = TOO_BIG;
      }),
      /whole number/,
    ],
    [
      "batch.events",
      withBatch((b) => {
        b.events!.push(app());
      }),
      /has 4 entries; the limit is 3/,
    ],
    [
      "batch.metric_ids",
      withBatch((b) => {
        b.metricIds = [1, 2, 1];
        b.metricValues = [1, 2, 3];
      }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "batch.metric_decls",
      withBatch((b) => {
        b.metricDecls!.push({ id: 3, name: "x", kind: 1 });
      }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "batch.metric_values",
      withBatch((b) => {
        b.metricValues = [1];
      }),
      /has 1 entries but metric_ids has 2/,
    ],
    [
      "batch.metric_values",
      withBatch((b) => {
        b.metricIds = [1];
      }),
      /has 2 entries but metric_ids has 1/,
    ],
    [
      "batch.metric_values[1]",
      withBatch((b) => {
        b.metricValues = [1, Number.NaN];
      }),
      /must be a finite number, not NaN/,
    ],
    [
      "batch.metric_values[1]",
      withBatch((b) => {
        b.metricValues = [1, Number.POSITIVE_INFINITY];
      }),
      /not Infinity/,
    ],
    [
      "batch.metric_values[0]",
      withBatch((b) => {
        b.metricValues = [Number.NEGATIVE_INFINITY, 1];
      }),
      /not -Infinity/,
    ],
    [
      "batch.metric_ids[1]",
      withBatch((b) => {
        b.metricIds = [1, 0];
      }),
      /must be a declared id \(>= 1\)/,
    ],
    [
      "batch.metric_decls[1].id",
      withBatch((b) => {
        b.metricDecls![1]!.id = 0;
      }),
      /must be at least 1/,
    ],
    [
      "batch.metric_decls[0].name",
      withBatch((b) => {
        b.metricDecls![0]!.name = "1load";
      }),
      /not a valid metric name: "1load"/,
    ],
    [
      "batch.metric_decls[0].name",
      withBatch((b) => {
        b.metricDecls![0]!.name = "lo ad";
      }),
      /not a valid metric name/,
    ],
    [
      "batch.metric_decls[0].name",
      withBatch((b) => {
        b.metricDecls![0]!.name = "";
      }),
      /is empty/,
    ],
    [
      "batch.metric_decls[1].kind",
      withBatch((b) => {
        b.metricDecls![1]!.kind = 0;
      }),
      /must be one of the contract's values 1..2, not 0/,
    ],
    [
      "batch.metric_decls[1].kind",
      withBatch((b) => {
        b.metricDecls![1]!.kind = notInEnum(3);
      }),
      /1..2, not 3/,
    ],
    [
      "batch.metric_decls[0].unit",
      withBatch((b) => {
        b.metricDecls![0]!.unit = long(17);
      }),
      /limit is 16/,
    ],

    // events
    ["batch.events[0].at_ms", withEvent(0, { ...device(), atMs: TOO_BIG }), /whole number/],
    ["batch.events[2]", withEvent(2, { atMs: 1 }), /carries no event kind/],
    ["batch.events[0].device.change", withEvent(0, { device: { ...device().device, change: 0 } }), /1..3, not 0/],
    [
      "batch.events[0].device.change",
      withEvent(0, { device: { ...device().device, change: notInEnum(4) } }),
      /1..3, not 4/,
    ],
    ["batch.events[0].device.device_id", withEvent(0, { device: { ...device().device, deviceId: "" } }), /is empty/],
    [
      "batch.events[0].device.device_id",
      withEvent(0, { device: { ...device().device, deviceId: "eth 0" } }),
      /not a valid device id/,
    ],
    [
      "batch.events[0].device.kind",
      withEvent(0, { device: { ...device().device, kind: "9nic" } }),
      /not a valid device kind/,
    ],
    [
      "batch.events[0].device.properties",
      withEvent(0, { device: { ...device().device, properties: { a: "", b: "", c: "" } } }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "batch.events[0].device.properties key",
      withEvent(0, { device: { ...device().device, properties: { [long(17, "k")]: "" } } }),
      /limit is 16/,
    ],
    [
      'batch.events[0].device.properties["speed"]',
      withEvent(0, { device: { ...device().device, properties: { speed: long(33) } } }),
      /limit is 32/,
    ],
    [
      "batch.events[1].lifecycle.phase",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, phase: 0 } }),
      /1..6, not 0/,
    ],
    [
      "batch.events[1].lifecycle.phase",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, phase: notInEnum(7) } }),
      /1..6, not 7/,
    ],
    [
      "batch.events[1].lifecycle.task",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, task: "a task" } }),
      /not a valid task name/,
    ],
    [
      "batch.events[1].lifecycle.detail",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, detail: long(33) } }),
      /limit is 32/,
    ],
    [
      "batch.events[1].lifecycle.result.value_json",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, result: { ok: true, valueJson: long(9) } } }),
      /limit is 8/,
    ],
    [
      "batch.events[1].lifecycle.result.error",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, result: { error: long(33) } } }),
      /limit is 32/,
    ],
    ["batch.events[2].app.name", withEvent(2, { app: { ...app().app, name: "" } }), /is empty/],
    ["batch.events[2].app.name", withEvent(2, { app: { ...app().app, name: "9lives" } }), /not a valid event name/],
    [
      "batch.events[2].app.payload",
      withEvent(2, { app: { ...app().app, payload: new Uint8Array(9) } }),
      /is 9 bytes; the limit is 8/,
    ],
    ["batch.events[2].app.media_type", withEvent(2, { app: { ...app().app, mediaType: long(17) } }), /limit is 16/],

    // config ack and pong
    ["config_ack.generation", { configAck: { ...configAck(), generation: TOO_BIG } }, /whole number/],
    ["config_ack.nonce", { configAck: { ...configAck(), nonce: long(17) } }, /limit is 16/],
    ["config_ack.status", { configAck: { ...configAck(), status: 0 } }, /1..4, not 0/],
    ["config_ack.status", { configAck: { ...configAck(), status: notInEnum(5) } }, /1..4, not 5/],
    ["config_ack.reason", { configAck: { ...configAck(), reason: long(33) } }, /limit is 32/],
    ["config_ack.running_generation", { configAck: { ...configAck(), runningGeneration: TOO_BIG } }, /whole number/],
    ["pong.nonce", { pong: { nonce: TOO_BIG } }, /whole number/],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => agent(frame), path, problem);
  });

  it("applies the default limits when none are given", () => {
    const frame = { hello: { ...hello(), instanceId: long(128, "i") } };
    expect(decodeAgentFrame(encodeAgentFrame(frame)).frame).toBe("hello");
    frame.hello.instanceId = long(129, "i");
    expectInvalid(() => decodeAgentFrame(encodeAgentFrame(frame)), "hello.instance_id", /limit is 128/);
    expect(DEFAULT_LIMITS.maxNameLength).toBe(128);
  });
});

describe("ManagerFrame rules", () => {
  it("refuses a frame with no case (empty bytes)", () => {
    expectInvalid(() => decodeManagerFrame(new Uint8Array(0)), "frame", /carries no case/);
  });

  const prepare = () => ({
    generation: 1,
    nonce: "n",
    config: new Uint8Array(8),
    mediaType: "application/json",
    timeoutMs: 1,
  });
  const cases: [string, ManagerFrame, RegExp?][] = [
    ["hello.session_id", { hello: { version: 1, sessionId: long(17) } }, /limit is 16/],
    ["hello.acked_seq", { hello: { version: 1, ackedSeq: TOO_BIG } }, /whole number/],
    ["refuse.code", { refuse: { code: long(17) } }, /limit is 16/],
    ["refuse.reason", { refuse: { reason: long(33) } }, /limit is 32/],
    ["ack.seq", { ack: { seq: TOO_BIG } }, /whole number/],
    ["prepare.generation", { prepare: { ...prepare(), generation: TOO_BIG } }, /whole number/],
    ["prepare.nonce", { prepare: { ...prepare(), nonce: long(17) } }, /limit is 16/],
    ["prepare.config", { prepare: { ...prepare(), config: new Uint8Array(9) } }, /is 9 bytes; the limit is 8/],
    ["prepare.media_type", { prepare: { ...prepare(), mediaType: long(17) } }, /limit is 16/],
    ["commit.generation", { commit: { generation: TOO_BIG } }, /whole number/],
    ["commit.nonce", { commit: { nonce: long(17) } }, /limit is 16/],
    ["abort.generation", { abort: { generation: TOO_BIG } }, /whole number/],
    ["abort.nonce", { abort: { nonce: long(17) } }, /limit is 16/],
    ["abort.reason", { abort: { reason: long(33) } }, /limit is 32/],
    ["drain.reason", { drain: { reason: long(33) } }, /limit is 32/],
    ["shutdown.reason", { shutdown: { reason: long(33) } }, /limit is 32/],
    ["ping.nonce", { ping: { nonce: TOO_BIG } }, /whole number/],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => manager(frame), path, problem);
  });
});

// Rules a decoded frame always meets (protobufjs produces strings, bytes and
// integers), which still guard frames built by hand and handed to the validators.
describe("rules for frames that did not come off the wire", () => {
  it("refuses a uint that is negative or fractional", () => {
    const negative = { frame: "hello", hello: { ...hello(), minVersion: -1 } } satisfies AgentFrame;
    expectInvalid(() => validateAgentFrame(negative, LIMITS), "hello.min_version", /not -1/);
    const fraction = { frame: "drain", drain: { deadlineMs: 1.5, reason: "" } } satisfies ManagerFrame;
    expectInvalid(() => validateManagerFrame(fraction, LIMITS), "drain.deadline_ms", /not 1.5/);
    const uint32 = {
      frame: "hello",
      hello: { version: 1, sessionId: "", ackedSeq: 0, maxFrameBytes: 0, maxBatchEvents: 0, heartbeatMs: -5 },
    } satisfies ManagerFrame;
    expectInvalid(() => validateManagerFrame(uint32, LIMITS), "hello.heartbeat_ms", /not -5/);
  });

  it("refuses a string field that holds no string", () => {
    const frame = { frame: "hello", hello: { ...hello(), token: 42 as unknown as string } } satisfies AgentFrame;
    expectInvalid(() => validateAgentFrame(frame, LIMITS), "hello.token", /must be a string/);
  });

  it("refuses a bytes field that holds no bytes", () => {
    const frame = {
      frame: "prepare",
      prepare: { generation: 1, nonce: "", config: "{}" as unknown as Uint8Array, mediaType: "", timeoutMs: 0 },
    } satisfies ManagerFrame;
    expectInvalid(() => validateManagerFrame(frame, LIMITS), "prepare.config", /must be bytes/);
  });

  it("refuses an enum value that is not an integer", () => {
    const frame = { frame: "configAck", configAck: { ...configAck(), status: notInEnum(1.5) } } satisfies AgentFrame;
    expectInvalid(() => validateAgentFrame(frame, LIMITS), "config_ack.status", /not 1.5/);
  });
});
