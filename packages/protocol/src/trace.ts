/**
 * The trace file of proto/froctal/v1/trace.proto: a TraceHeader, then
 * TraceRecords, each behind a varint length (delimited.ts's framing). Pure
 * functions over bytes. The writer's side makes each record one whole buffer,
 * so whoever writes it to a file writes a record entirely or not at all; the
 * reader takes the whole file, refuses a foreign one at once, and yields
 * records lazily, so that everything before a damaged or truncated tail is
 * read before the error that names the tail's byte offset.
 */
import { FroctalError } from "@froctal/primitives";
import { encodeDelimited } from "./delimited.js";
import { type TraceInput, toTraceInput } from "./trace-input.js";
import { type DecodedTraceHeader, type DecodedTraceRecord, type TraceHeader, type TraceRecord, v1 } from "./wire.js";

export const TRACE_MAGIC = "froctal.trace";
export const TRACE_VERSION = 1;
/** Largest record a reader accepts: a batch is at most one agent frame (1 MiB by default), plus its instance id. */
export const MAX_TRACE_RECORD_BYTES = 16 << 20;

/** What a writer says about its run; the magic and version are the codec's. */
export type TraceStart = Omit<TraceHeader, "magic" | "version">;

/** The file's first bytes: its header, length-delimited. */
export function encodeTraceHeader(start: TraceStart): Uint8Array {
  return encodeDelimited(v1.TraceHeader.encode({ ...start, magic: TRACE_MAGIC, version: TRACE_VERSION }).finish());
}

/** One whole record, length-delimited: append it to the file in one write. */
export function encodeTraceRecord(record: TraceRecord): Uint8Array {
  return encodeDelimited(v1.TraceRecord.encode(record).finish());
}

/** A decoded record and the byte offset of its length prefix in the file. */
export interface TraceEntry {
  readonly offset: number;
  readonly record: DecodedTraceRecord;
}

export interface Trace {
  readonly header: DecodedTraceHeader;
  /** Bytes the header took: the first record's offset. */
  readonly headerBytes: number;
  /**
   * The records in file order. Throws FROCTAL_E_TRACE naming the
   * byte offset of the first record that is truncated or not a record, after
   * yielding every record before it.
   */
  records(): Generator<TraceEntry, void, undefined>;
  /** The records as a replay takes them (trace-input.ts), checked; throws as records() does, or for a record that breaks the contract. */
  inputs(): Generator<TraceInput, void, undefined>;
}

/** Reads a trace file's bytes; refuses, naming byte 0, a file that is not a trace of a version this reader knows. */
export function readTrace(bytes: Uint8Array): Trace {
  const foreign = (why: string): never => {
    throw new FroctalError("FROCTAL_E_TRACE", `not a froctal trace (at byte offset 0: ${why})`);
  };
  const first = frameAt(bytes, 0);
  if (typeof first === "string") return foreign(first);
  let header: DecodedTraceHeader;
  try {
    header = v1.TraceHeader.decode(bytes.subarray(first.start, first.end));
  } catch (cause) {
    return foreign(`its first record is not a trace header: ${detail(cause)}`);
  }
  if (header.magic !== TRACE_MAGIC) return foreign(`it does not begin with the magic "${TRACE_MAGIC}"`);
  if (header.version !== TRACE_VERSION) {
    throw new FroctalError(
      "FROCTAL_E_TRACE",
      `the trace is of format version ${header.version}; this froctal reads version ${TRACE_VERSION} (at byte offset 0)`,
    );
  }
  const headerBytes = first.end;
  return {
    header,
    headerBytes,
    records: () => records(bytes, headerBytes),
    *inputs() {
      for (const { offset, record } of records(bytes, headerBytes)) yield toTraceInput(record, offset);
    },
  };
}

function* records(bytes: Uint8Array, from: number): Generator<TraceEntry, void, undefined> {
  let offset = from;
  while (offset < bytes.length) {
    const frame = frameAt(bytes, offset);
    if (typeof frame === "string") throw bad(offset, frame);
    let record: DecodedTraceRecord;
    try {
      record = v1.TraceRecord.decode(bytes.subarray(frame.start, frame.end));
    } catch (cause) {
      throw bad(offset, `not a trace record: ${detail(cause)}`);
    }
    if (record.record === undefined) throw bad(offset, "a record that carries nothing this froctal knows");
    yield { offset, record };
    offset = frame.end;
  }
}

function bad(offset: number, why: string): FroctalError {
  return new FroctalError("FROCTAL_E_TRACE", `the trace is damaged at byte offset ${offset}: ${why}`);
}

// A varint length of a record we could ever accept fits in 4 bytes (< 2^28).
const MAX_HEADER = 4;

/** The body of the length-delimited frame at `pos`, or why there is none. */
function frameAt(bytes: Uint8Array, pos: number): { start: number; end: number } | string {
  let size = 0;
  let shift = 1;
  let i = pos;
  for (;;) {
    if (i === bytes.length)
      return `truncated: the file ends inside a record's length (${bytes.length - pos} bytes left)`;
    if (i - pos === MAX_HEADER) return `a record length longer than ${MAX_HEADER} bytes`;
    const b = bytes[i++]!;
    size += (b & 0x7f) * shift;
    shift *= 128;
    if (b < 0x80) break;
  }
  if (size > MAX_TRACE_RECORD_BYTES) return `a record of ${size} bytes is over the limit of ${MAX_TRACE_RECORD_BYTES}`;
  if (bytes.length - i < size) {
    return `truncated: a record of ${size} bytes starts there and the file holds only ${bytes.length - i} more`;
  }
  return { start: i, end: i + size };
}

function detail(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
