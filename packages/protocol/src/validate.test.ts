// Rules for whole frames (at every limit, with no case, under the default limits,
// built by hand) and the fields of the small ones (config ack, pong). The hello's,
// the batch's, the events' and the manager's frames each have a file beside this
// one: validate.hello, validate.batch, validate.events, validate.manager.
import { describe, expect, it } from "vitest";
import { agent, batch, configAck, expectInvalid, hello, LIMITS, long, notInEnum, TOO_BIG } from "../test/helpers.js";
import { decodeAgentFrame, encodeAgentFrame } from "./codec.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { validateAgentFrame, validateManagerFrame } from "./validate.js";
import type { AgentFrame, ManagerFrame } from "./wire.js";

describe("valid frames", () => {
  it("accepts frames that sit at every limit", () => {
    expect(agent({ hello: hello() }).frame).toBe("hello");
    expect(agent({ batch: batch() }).frame).toBe("batch");
    expect(agent({ configAck: configAck() }).frame).toBe("configAck");
    expect(agent({ pong: { nonce: Number.MAX_SAFE_INTEGER } }).frame).toBe("pong");
    expect(agent({ batch: {} }).frame).toBe("batch");
  });
});

describe("AgentFrame rules", () => {
  it("refuses a frame with no case (empty bytes)", () => {
    expectInvalid(() => decodeAgentFrame(new Uint8Array(0)), "frame", /carries no case/);
  });

  const cases: [string, AgentFrame, RegExp?][] = [
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
