// The host codec: every case both ways comes back as its checked shape; oversize
// frames are refused before any decoding; bytes that are not protobuf are malformed.
import { afterEach, describe, expect, it, vi } from "vitest";
import { lenField, tag, thrown, u8, utf8, varint } from "../test/helpers.js";
import { hostControls, hostFrames, moreHostControls, moreHostFrames } from "../test/host.js";
import { decodeHostControl, decodeHostFrame, encodeHostControl, encodeHostFrame } from "./host-codec.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { v1 } from "./wire.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("host round trip", () => {
  it.each(Object.entries({ ...hostFrames, ...moreHostFrames }))("HostFrame %s", (_name, { wire, checked }) => {
    expect(decodeHostFrame(encodeHostFrame(wire))).toStrictEqual(checked);
  });

  it.each(Object.entries({ ...hostControls, ...moreHostControls }))("HostControl %s", (_name, { wire, checked }) => {
    expect(decodeHostControl(encodeHostControl(wire))).toStrictEqual(checked);
  });

  it("gives a start an image or a command, the other undefined, as a LaunchSpec has", () => {
    const image = decodeHostControl(encodeHostControl(hostControls.action.wire));
    const command = decodeHostControl(encodeHostControl(moreHostControls["a start with a command"].wire));
    if (image.frame !== "action" || image.action.kind !== "start") throw new Error("decoded no start");
    if (command.frame !== "action" || command.action.kind !== "start") throw new Error("decoded no start");
    expect([image.action.start.image, image.action.start.command]).toEqual(["apps/web/main.js", undefined]);
    expect([command.action.start.image, command.action.start.command]).toEqual([
      undefined,
      ["/bin/sh", "-c", "exec guest"],
    ]);
  });

  it("keeps hostile env names as plain own keys", () => {
    // "__proto__" is a valid POSIX name: it must stay a key, never become the map's prototype.
    const hostile: Record<string, string> = { constructor: "c" };
    Object.defineProperty(hostile, "__proto__", { value: "p", enumerable: true });
    const start = { ...hostControls.action.wire.action.start, env: hostile };
    const decoded = decodeHostControl(encodeHostControl({ action: { key: "k", start } }));
    if (decoded.frame !== "action" || decoded.action.kind !== "start") throw new Error("decoded no start");
    const env = decoded.action.start.env;
    expect(Object.keys(env).sort()).toEqual(["__proto__", "constructor"]);
    expect(Object.getOwnPropertyDescriptor(env, "__proto__")?.value).toBe("p");
    expect(Object.getPrototypeOf(env)).toBe(Object.prototype);
  });
});

describe("host size limit", () => {
  const limits = { ...DEFAULT_LIMITS, maxFrameBytes: 64 };

  it("rejects an oversize HostFrame before decoding it", () => {
    const decode = vi.spyOn(v1.HostFrame, "decode");
    // Garbage: had it been decoded, the error would be FROCTAL_E_FRAME_MALFORMED.
    const err = thrown(() => decodeHostFrame(new Uint8Array(65).fill(0xff), limits));
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(err.sentence).toBe("a frame of 65 bytes is over the limit of 64 bytes");
    expect(decode).not.toHaveBeenCalled();
  });

  it("rejects an oversize HostControl before decoding it", () => {
    const decode = vi.spyOn(v1.HostControl, "decode");
    const err = thrown(() => decodeHostControl(new Uint8Array(65).fill(0xff), limits));
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(decode).not.toHaveBeenCalled();
  });

  it("accepts a frame of exactly the limit and rejects one byte more, both ways", () => {
    const frame = encodeHostFrame(hostFrames.outcome.wire);
    expect(decodeHostFrame(frame, { ...DEFAULT_LIMITS, maxFrameBytes: frame.length }).frame).toBe("outcome");
    expect(thrown(() => decodeHostFrame(frame, { ...DEFAULT_LIMITS, maxFrameBytes: frame.length - 1 })).code).toBe(
      "FROCTAL_E_FRAME_TOO_LARGE",
    );
    const control = encodeHostControl(hostControls.list.wire);
    expect(decodeHostControl(control, { ...DEFAULT_LIMITS, maxFrameBytes: control.length }).frame).toBe("list");
    expect(
      thrown(() => decodeHostControl(control, { ...DEFAULT_LIMITS, maxFrameBytes: control.length - 1 })).code,
    ).toBe("FROCTAL_E_FRAME_TOO_LARGE");
  });

  it("applies the default limit of 1 MiB", () => {
    const bytes = new Uint8Array(DEFAULT_LIMITS.maxFrameBytes + 1);
    expect(thrown(() => decodeHostFrame(bytes)).code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(thrown(() => decodeHostControl(bytes)).code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
  });
});

describe("malformed host bytes", () => {
  const cases: [string, Uint8Array][] = [
    // hello whose host_id claims 10 bytes inside a 5-byte hello
    ["a truncated string", u8(tag(1, 2), [5], tag(3, 2), [10], utf8("abc"))],
    ["a string that is not UTF-8", u8(lenField(1, [...tag(3, 2), 2, 0xc3, 0x28]))],
    ["a truncated varint", u8(tag(1, 2), [2], tag(1, 0), [0x80])],
    ["wire type 6", u8(tag(1, 6))],
    ["wire type 7", u8(tag(1, 7))],
    ["a length past the end", u8(tag(4, 2), varint(1000))],
  ];

  it.each(cases)("HostFrame: %s", (_name, bytes) => {
    const err = thrown(() => decodeHostFrame(bytes));
    expect(err.code).toBe("FROCTAL_E_FRAME_MALFORMED");
    expect(err.sentence.startsWith("the bytes are not a valid HostFrame (")).toBe(true);
  });

  it.each(cases)("HostControl: %s", (_name, bytes) => {
    const err = thrown(() => decodeHostControl(bytes));
    expect(err.code).toBe("FROCTAL_E_FRAME_MALFORMED");
    expect(err.sentence.startsWith("the bytes are not a valid HostControl (")).toBe(true);
  });

  it("ignores fields a later version adds, and still validates what it knows", () => {
    // an outcome with an unknown field 15 (varint 1) inside and beside it
    const outcome = [...lenField(1, utf8("k")), ...tag(2, 0), 1, ...tag(15, 0), 1];
    const decoded = decodeHostFrame(u8(lenField(2, outcome), tag(15, 0), [1]));
    expect(decoded).toStrictEqual({ frame: "outcome", outcome: { key: "k", ok: true, code: "", reason: "" } });
  });
});
