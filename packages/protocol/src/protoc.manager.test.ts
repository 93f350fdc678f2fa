// Every ManagerFrame case encoded here, read back by protoc (see protoc.test.ts: protoc must be installed).
import { describe, expect, it } from "vitest";
import { decodeText } from "../test/helpers.js";
import { encodeManagerFrame } from "./codec.js";
import type { ManagerFrame } from "./wire.js";

describe("ManagerFrame encoded here, decoded by protoc", () => {
  const cases: [string, ManagerFrame, string][] = [
    [
      "hello",
      {
        hello: {
          version: 1,
          sessionId: "sess-1",
          ackedSeq: Number.MAX_SAFE_INTEGER,
          maxFrameBytes: 1 << 20,
          maxBatchEvents: 4096,
          heartbeatMs: 5000,
        },
      },
      `hello {
  version: 1
  session_id: "sess-1"
  acked_seq: 9007199254740991
  max_frame_bytes: 1048576
  max_batch_events: 4096
  heartbeat_ms: 5000
}
`,
    ],
    [
      "refuse",
      { refuse: { code: "FROCTAL_E_AUTH", reason: 'token for "web-1" é', retryable: true, retryAfterMs: 250 } },
      String.raw`refuse {
  code: "FROCTAL_E_AUTH"
  reason: "token for \"web-1\" \303\251"
  retryable: true
  retry_after_ms: 250
}
`,
    ],
    [
      "ack",
      { ack: { seq: 1_700_000_000_123 } },
      `ack {
  seq: 1700000000123
}
`,
    ],
    [
      "prepare",
      {
        prepare: {
          generation: 12,
          nonce: "n-1",
          config: Uint8Array.of(...new TextEncoder().encode('{"port":8080}'), 0x0a, 0x00, 0xff),
          mediaType: "application/json",
          timeoutMs: 3000,
        },
      },
      String.raw`prepare {
  generation: 12
  nonce: "n-1"
  config: "{\"port\":8080}\n\000\377"
  media_type: "application/json"
  timeout_ms: 3000
}
`,
    ],
    [
      "commit",
      { commit: { generation: 12, nonce: "n-1" } },
      `commit {
  generation: 12
  nonce: "n-1"
}
`,
    ],
    [
      "abort",
      { abort: { generation: 12, nonce: "n-1", reason: "router-b nacked" } },
      `abort {
  generation: 12
  nonce: "n-1"
  reason: "router-b nacked"
}
`,
    ],
    [
      "drain",
      { drain: { deadlineMs: 30_000, reason: "scale down" } },
      `drain {
  deadline_ms: 30000
  reason: "scale down"
}
`,
    ],
    [
      "shutdown",
      { shutdown: { graceMs: 5000, reason: "drained" } },
      `shutdown {
  grace_ms: 5000
  reason: "drained"
}
`,
    ],
    [
      "ping",
      { ping: { nonce: 2 ** 32 + 1 } },
      `ping {
  nonce: 4294967297
}
`,
    ],
    // proto3 sends no zeros: an all-default case is an empty message, still present.
    ["ping with a zero nonce", { ping: { nonce: 0 } }, "ping {\n}\n"],
  ];

  it.each(cases)("%s", (_name, frame, text) => {
    expect(decodeText("ManagerFrame", "manager.proto", encodeManagerFrame(frame))).toBe(text);
  });

  it("covers every ManagerFrame case", () => {
    const covered = new Set(cases.map(([, frame]) => Object.keys(frame)[0]));
    expect([...covered].sort()).toEqual(
      ["abort", "ack", "commit", "drain", "hello", "ping", "prepare", "refuse", "shutdown"].sort(),
    );
  });
});
