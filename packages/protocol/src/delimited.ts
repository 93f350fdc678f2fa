/**
 * Length-delimited framing for byte streams (virtio-serial, vchan, unix
 * sockets): each frame is a protobuf varint length followed by that many bytes,
 * the same layout as protobuf's writeDelimited. Pure functions over bytes: the
 * reader is a state machine fed with whatever chunks the stream delivers.
 */
import { FroctalError } from "@froctal/primitives";

/** Prefixes a frame with its varint length. */
export function encodeDelimited(frame: Uint8Array): Uint8Array {
  let n = frame.length;
  let header = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    header++;
  }
  const out = new Uint8Array(header + frame.length);
  n = frame.length;
  let i = 0;
  while (n >= 0x80) {
    out[i++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  out[i++] = n;
  out.set(frame, i);
  return out;
}

// A varint length of a frame we could ever accept fits in 5 bytes (< 2^35).
const MAX_HEADER = 5;

/**
 * Splits a byte stream into frames. A length above maxFrameBytes is rejected as
 * soon as its header arrives, before the body is buffered. After an error the
 * stream is out of step and the reader refuses further input: close the stream.
 */
export class FrameReader {
  private buf = new Uint8Array(0);
  private start = 0;
  private end = 0;
  private failed: FroctalError | undefined;

  constructor(private readonly maxFrameBytes: number) {}

  /** Bytes received but not yet part of a whole frame. */
  get pending(): number {
    return this.end - this.start;
  }

  /** Feeds a chunk; returns every frame it completes, in order. */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    const frames: Uint8Array[] = [];
    let from = 0;
    // Fast path: nothing pending, so whole frames are views of the chunk itself.
    if (this.pending === 0) {
      from = this.scan(chunk, 0, chunk.length, frames, false);
      if (from === chunk.length) return frames;
    }
    this.append(chunk.subarray(from));
    this.start = this.scan(this.buf, this.start, this.end, frames, true);
    if (this.start === this.end) this.start = this.end = 0;
    return frames;
  }

  /** Parses whole frames in bytes[from, to); returns where the first incomplete one starts. */
  private scan(bytes: Uint8Array, from: number, to: number, frames: Uint8Array[], copy: boolean): number {
    let pos = from;
    while (pos < to) {
      let size = 0;
      let shift = 1;
      let i = pos;
      let complete = false;
      while (i < to && i - pos < MAX_HEADER) {
        const b = bytes[i++]!;
        size += (b & 0x7f) * shift;
        shift *= 128;
        if (b < 0x80) {
          complete = true;
          break;
        }
      }
      if (!complete) {
        if (i - pos >= MAX_HEADER)
          this.fail(`a frame header is longer than ${MAX_HEADER} bytes`, "FROCTAL_E_FRAME_MALFORMED");
        return pos;
      }
      if (size > this.maxFrameBytes) {
        this.fail(
          `a frame of ${size} bytes is over the limit of ${this.maxFrameBytes} bytes`,
          "FROCTAL_E_FRAME_TOO_LARGE",
        );
      }
      if (to - i < size) return pos;
      frames.push(copy ? bytes.slice(i, i + size) : bytes.subarray(i, i + size));
      pos = i + size;
    }
    return pos;
  }

  private append(bytes: Uint8Array): void {
    const pending = this.pending;
    if (this.end + bytes.length > this.buf.length) {
      const grown = new Uint8Array(Math.max(pending + bytes.length, this.buf.length * 2, 4096));
      grown.set(this.buf.subarray(this.start, this.end));
      this.buf = grown;
      this.start = 0;
      this.end = pending;
    }
    this.buf.set(bytes, this.end);
    this.end += bytes.length;
  }

  private fail(sentence: string, code: "FROCTAL_E_FRAME_TOO_LARGE" | "FROCTAL_E_FRAME_MALFORMED"): never {
    this.failed = new FroctalError(code, sentence);
    throw this.failed;
  }
}
