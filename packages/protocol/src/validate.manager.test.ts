// The rules of every frame the manager sends.
import { describe, expect, it } from "vitest";
import { expectInvalid, long, manager, TOO_BIG } from "../test/helpers.js";
import { decodeManagerFrame } from "./codec.js";
import type { ManagerFrame } from "./wire.js";

describe("valid frames", () => {
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
