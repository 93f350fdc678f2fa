/**
 * What the protocol's tests share, written once: hand-built wire bytes, the
 * sample frames the codec tests send round, the frames at the limits the
 * validation tests break one field at a time, and a runner for protoc (the
 * reference implementation the contract tests check against).
 */
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { FroctalError } from "@froctal/primitives";
import { expect } from "vitest";
import { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "../src/codec.js";
import type { CheckedAgentFrame } from "../src/frames.js";
import type { Limits } from "../src/limits.js";
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
} from "../src/wire.js";

// ---- hand-built bytes ----------------------------------------------------------

/** Runs fn and returns the FroctalError it throws; fails the test on anything else. */
export function thrown(fn: () => unknown): FroctalError {
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
export function plain(value: unknown): unknown {
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

export function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}
export const tag = (field: number, wireType: number): number[] => varint(field * 8 + wireType);
export const lenField = (field: number, body: ArrayLike<number>): number[] => [
  ...tag(field, 2),
  ...varint(body.length),
  ...Array.from(body),
];
export const u8 = (...parts: ArrayLike<number>[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export function float64(x: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x, true);
  return Array.from(new Uint8Array(view.buffer));
}

// ---- sample frames: every case, every field set (codec tests) -------------------

export const agentFrames = {
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

export const managerFrames = {
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

// ---- frames at the limits, broken one field at a time (validation tests) --------

// Small limits, so that going one over each is cheap. The valid frames below sit
// exactly at these limits wherever they can, so every "one more" test is a boundary.
export const LIMITS: Limits = {
  maxFrameBytes: 1 << 20,
  maxBatchEvents: 3,
  maxBatchSamples: 2,
  maxNameLength: 16,
  maxTextLength: 32,
  maxProperties: 2,
  maxPayloadBytes: 8,
  maxInventoryGuests: 2,
};
export const TOO_BIG = 2 ** 53; // the first integer a double cannot tell from its neighbour

export const long = (n: number, c = "a"): string => c.repeat(n);
/** A number the contract's enum does not have, past the type checker. */
export const notInEnum = (n: number): never => n as never;

export const hello = (): AgentHello => ({
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

export const device = (): Event => ({
  atMs: Number.MAX_SAFE_INTEGER,
  device: {
    change: DeviceChange.DEVICE_CHANGE_CHANGED,
    deviceId: "eth0@pci:00_1.a-",
    kind: "",
    properties: { [long(16, "k")]: long(32, "v"), mac: "" },
  },
});
export const lifecycle = (): Event => ({
  atMs: 1,
  lifecycle: {
    phase: LifecyclePhase.LIFECYCLE_PHASE_EXITED,
    task: "",
    detail: long(32),
    result: { ok: true, code: 0, valueJson: long(8), error: long(32) },
  },
});
export const app = (): Event => ({
  atMs: 2,
  app: { name: "a.b:c_d-e", payload: new Uint8Array(8), mediaType: long(16) },
});

export const batch = (): SignalBatch => ({
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

export const configAck = () => ({
  generation: 3,
  nonce: long(16),
  status: ConfigAckStatus.CONFIG_ACK_STATUS_ABORTED,
  reason: long(32),
  runningGeneration: 2,
});

/** Validates through the wire: encode, then decode (which validates). */
export const agent = (frame: AgentFrame) => decodeAgentFrame(encodeAgentFrame(frame), LIMITS);
export const manager = (frame: ManagerFrame) => decodeManagerFrame(encodeManagerFrame(frame), LIMITS);

/** Asserts that run fails validation, and that the reason starts with the field path. */
export function expectInvalid(run: () => unknown, path: string, problem?: RegExp): void {
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

export const withBatch = (change: (b: SignalBatch) => void): AgentFrame => {
  const b = batch();
  change(b);
  return { batch: b };
};
export const withHello = (change: (h: AgentHello) => void): AgentFrame => {
  const h = hello();
  change(h);
  return { hello: h };
};
/** The batch with event i replaced. */
export const withEvent = (i: number, event: Event): AgentFrame =>
  withBatch((b) => {
    b.events![i] = event;
  });

// ---- protoc ---------------------------------------------------------------------

// test -> protocol -> packages -> the repository root
export const root = fileURLToPath(new URL("../../../", import.meta.url));
const SETUP = "run `sh tools/setup/ensure.sh --test` from the repository root to install it";

/** Runs protoc in the repository root; a missing protoc is a failure that says how to fix it. */
export function protoc(args: string[], input: Uint8Array | string, bin = "protoc"): Buffer {
  try {
    return execFileSync(bin, args, { cwd: root, input, stdio: ["pipe", "pipe", "pipe"] });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error(`${bin} (protobuf-compiler) is not installed: ${SETUP}`, { cause: error });
    }
    const stderr = String((error as { stderr?: unknown }).stderr ?? "");
    throw new Error(`${bin} ${args.join(" ")} failed: ${stderr}`, { cause: error });
  }
}

export const encodeText = (type: string, proto: string, text: string): Uint8Array =>
  new Uint8Array(protoc([`--encode=froctal.v1.${type}`, "-I", "proto", `proto/froctal/v1/${proto}`], text));
export const decodeText = (type: string, proto: string, bytes: Uint8Array): string =>
  protoc([`--decode=froctal.v1.${type}`, "-I", "proto", `proto/froctal/v1/${proto}`], bytes).toString("utf8");

/** protoc encodes the text, we decode the bytes. */
export const fromProtoc = (text: string): CheckedAgentFrame =>
  decodeAgentFrame(encodeText("AgentFrame", "agent.proto", text));

export function narrow<K extends CheckedAgentFrame["frame"]>(
  frame: CheckedAgentFrame,
  kind: K,
): Extract<CheckedAgentFrame, { frame: K }> {
  if (frame.frame !== kind) throw new Error(`expected a ${kind} frame, decoded a ${String(frame.frame)}`);
  return frame as Extract<CheckedAgentFrame, { frame: K }>;
}
