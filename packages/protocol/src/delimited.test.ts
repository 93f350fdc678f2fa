import fc from "fast-check";
import $protobuf from "protobufjs/minimal.js";
import { describe, expect, it } from "vitest";
import { thrown } from "../test/helpers.js";
import { decodeAgentFrame, encodeAgentFrame } from "./codec.js";
import { encodeDelimited, FrameReader } from "./delimited.js";
import type { AgentFrame } from "./wire.js";

/** "0a 01 ff" -> bytes; spaces are for the reader. */
function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-f]/i.test(clean)) throw new Error(`not hex: ${s}`);
  return Uint8Array.from(clean.match(/../g) ?? [], (b) => Number.parseInt(b, 16));
}
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString("hex");
const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => Array.from(p)));
/** A frame of n bytes whose content shows where each byte came from. */
const body = (n: number, seed = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 7 + seed) & 0xff);

describe("encodeDelimited", () => {
  it.each([
    [0, "00"],
    [1, "01"],
    [127, "7f"],
    [128, "8001"],
    [300, "ac02"],
    [16_383, "ff7f"],
    [16_384, "808001"],
    [(1 << 21) + 1, "81808001"],
  ])("prefixes a %i-byte frame with the varint %s", (n, header) => {
    const frame = body(n);
    const out = encodeDelimited(frame);
    expect(toHex(out.subarray(0, header.length / 2))).toBe(header);
    expect(out.length).toBe(header.length / 2 + n);
    expect(Buffer.from(out.subarray(header.length / 2)).equals(frame)).toBe(true);
  });

  it("lays frames out as protobuf's length-delimited bytes do", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 70_000 }), (frame) => {
        // Buffer.equals: protobufjs hands back a Buffer under Node, and toEqual tells them apart.
        expect(Buffer.from(encodeDelimited(frame)).equals($protobuf.Writer.create().bytes(frame).finish())).toBe(true);
      }),
      { numRuns: 50 },
    );
  });
});

describe("FrameReader", () => {
  it("reads a single frame", () => {
    const reader = new FrameReader(1024);
    expect(reader.push(hex("03 61 62 63")).map(toHex)).toEqual(["616263"]);
    expect(reader.pending).toBe(0);
  });

  it("reads several frames from one chunk, in order", () => {
    const reader = new FrameReader(1024);
    expect(reader.push(hex("01 aa  00  02 bb cc  03 dd ee ff")).map(toHex)).toEqual(["aa", "", "bbcc", "ddeeff"]);
    expect(reader.pending).toBe(0);
  });

  it("reads zero-length frames", () => {
    const reader = new FrameReader(1024);
    expect(reader.push(hex("00"))).toEqual([new Uint8Array(0)]);
    expect(reader.push(hex("00 00 00")).map(toHex)).toEqual(["", "", ""]);
  });

  it("waits for the rest of a frame and keeps what follows it", () => {
    const reader = new FrameReader(1024);
    expect(reader.push(hex("03 61"))).toEqual([]);
    expect(reader.pending).toBe(2);
    expect(reader.push(hex("62"))).toEqual([]);
    expect(reader.pending).toBe(3);
    expect(reader.push(hex("63 02 01")).map(toHex)).toEqual(["616263"]);
    expect(reader.pending).toBe(2);
    expect(reader.push(hex("02")).map(toHex)).toEqual(["0102"]);
    expect(reader.pending).toBe(0);
  });

  it("reads a header split across chunks", () => {
    const reader = new FrameReader(1024);
    const frame = body(300);
    const wire = encodeDelimited(frame);
    expect(toHex(wire.subarray(0, 2))).toBe("ac02");
    expect(reader.push(wire.subarray(0, 1))).toEqual([]);
    expect(reader.pending).toBe(1);
    expect(reader.push(wire.subarray(1, 2))).toEqual([]);
    expect(reader.pending).toBe(2);
    expect(reader.push(wire.subarray(2, 100))).toEqual([]);
    expect(reader.push(wire.subarray(100))).toEqual([frame]);
    expect(reader.pending).toBe(0);
  });

  it("reads a stream split at every possible byte position", () => {
    // One frame with a 2-byte header, a zero-length frame, and a small one.
    const frames = [body(200, 1), new Uint8Array(0), body(3, 2)];
    const wire = concat(...frames.map(encodeDelimited));
    for (let at = 0; at <= wire.length; at++) {
      const reader = new FrameReader(1024);
      const got = [...reader.push(wire.subarray(0, at)), ...reader.push(wire.subarray(at))];
      expect(got, `split at ${at}`).toEqual(frames);
      expect(reader.pending, `split at ${at}`).toBe(0);
    }
  });

  it("reads a stream fed one byte at a time", () => {
    const frames = [body(200, 1), new Uint8Array(0), body(3, 2)];
    const wire = concat(...frames.map(encodeDelimited));
    const reader = new FrameReader(1024);
    const got: Uint8Array[] = [];
    for (let i = 0; i < wire.length; i++) got.push(...reader.push(wire.subarray(i, i + 1)));
    expect(got).toEqual(frames);
  });

  it("accepts a frame of exactly the limit", () => {
    const reader = new FrameReader(100);
    const frame = body(100);
    expect(reader.push(encodeDelimited(frame))).toEqual([frame]);
  });

  it("rejects an oversize frame as soon as its header arrives, before the body", () => {
    const reader = new FrameReader(100);
    const err = thrown(() => reader.push(hex("65"))); // 101, and not one body byte sent
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(err.message).toContain("101 bytes");
    expect(err.message).toContain("100 bytes");
  });

  it("rejects an oversize frame whose header is split across chunks", () => {
    const reader = new FrameReader(100);
    expect(reader.push(hex("01 aa 80")).map(toHex)).toEqual(["aa"]);
    expect(thrown(() => reader.push(hex("01"))).code).toBe("FROCTAL_E_FRAME_TOO_LARGE"); // 128
  });

  it("rejects a huge frame announced by a 5-byte header", () => {
    const reader = new FrameReader(1 << 20);
    const err = thrown(() => reader.push(hex("ff ff ff ff 0f"))); // 2^32 - 1
    expect(err.code).toBe("FROCTAL_E_FRAME_TOO_LARGE");
    expect(err.message).toContain(`${2 ** 32 - 1} bytes`);
  });

  it("rejects a header longer than 5 bytes as malformed without waiting for its end", () => {
    const reader = new FrameReader(1 << 20);
    expect(thrown(() => reader.push(hex("80 80 80 80 80"))).code).toBe("FROCTAL_E_FRAME_MALFORMED");
  });

  it("rejects an over-long header split across chunks", () => {
    const reader = new FrameReader(1 << 20);
    expect(reader.push(hex("80 80"))).toEqual([]);
    expect(reader.push(hex("80 80"))).toEqual([]);
    expect(thrown(() => reader.push(hex("80"))).code).toBe("FROCTAL_E_FRAME_MALFORMED");
  });

  it("refuses all input after an error", () => {
    const reader = new FrameReader(100);
    const first = thrown(() => reader.push(hex("65")));
    const again = thrown(() => reader.push(hex("01 aa")));
    expect(again).toBe(first);
    expect(thrown(() => reader.push(new Uint8Array(0))).code).toBe("FROCTAL_E_FRAME_TOO_LARGE");

    const malformed = new FrameReader(100);
    thrown(() => malformed.push(hex("ff ff ff ff ff")));
    expect(thrown(() => malformed.push(hex("00"))).code).toBe("FROCTAL_E_FRAME_MALFORMED");
  });

  it("does not corrupt frames it returned earlier when it reuses its buffer", () => {
    const reader = new FrameReader(1 << 16);
    const sent: Uint8Array[] = [];
    const got: Uint8Array[] = [];
    // Each frame arrives in two halves, so it is assembled in the reader's own
    // buffer, which empties after it and is written over by the next frame.
    for (const [n, seed] of [
      [40, 1],
      [40, 2],
      [5000, 3], // larger than the buffer so far: it grows
      [40, 4],
      [3000, 5],
      [40, 6],
    ] as const) {
      const frame = body(n, seed);
      const wire = encodeDelimited(frame);
      const half = wire.length >> 1;
      sent.push(frame);
      expect(reader.push(wire.subarray(0, half))).toEqual([]);
      got.push(...reader.push(wire.subarray(half)));
      expect(reader.pending).toBe(0);
    }
    expect(got).toEqual(sent);
  });

  it("returns the same frames in order however the stream is cut", () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ maxLength: 300 }), { maxLength: 20 }),
        fc.array(fc.nat(), { maxLength: 30 }),
        (frames, cuts) => {
          const wire = concat(...frames.map(encodeDelimited));
          const points = [...new Set(cuts.map((c) => c % (wire.length + 1)))].sort((x, y) => x - y);
          const bounds = [0, ...points, wire.length];
          const reader = new FrameReader(300);
          const got: Uint8Array[] = [];
          for (let i = 0; i + 1 < bounds.length; i++) got.push(...reader.push(wire.slice(bounds[i], bounds[i + 1])));
          // Compared only at the end: a frame corrupted by a later push fails here.
          expect(got).toEqual(frames);
          expect(reader.pending).toBe(0);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("feeds the codec: delimited AgentFrames from a stream decode in order", () => {
    const sent: AgentFrame[] = [
      { hello: { minVersion: 1, maxVersion: 1, instanceId: "web-1", streamId: "s-1" } },
      { pong: { nonce: 1 } },
      { batch: { firstSeq: 1, metricDecls: [{ id: 1, name: "load", kind: 1 }], metricIds: [1], metricValues: [0.5] } },
    ];
    const wire = concat(...sent.map((f) => encodeDelimited(encodeAgentFrame(f))));
    const reader = new FrameReader(1024);
    const frames = [...reader.push(wire.subarray(0, 7)), ...reader.push(wire.subarray(7))];
    expect(frames.map((f) => decodeAgentFrame(f).frame)).toEqual(["hello", "pong", "batch"]);
  });
});
