// Bytes the codec refuses, and with which code: frames over the size limit
// (before any decoding) and bytes that are not protobuf.
import { type ErrorCode, FroctalError } from "@froctal/primitives";
import fc from "fast-check";
import { afterEach, describe, expect, it, vi } from "vitest";
import { agentFrames, lenField, managerFrames, plain, tag, thrown, u8, utf8 } from "../test/helpers.js";
import { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "./codec.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { v1 } from "./wire.js";

afterEach(() => {
  vi.restoreAllMocks();
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
