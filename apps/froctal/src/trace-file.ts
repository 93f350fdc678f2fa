/**
 * A trace on disk (`froctal up --record FILE`, `froctal replay FILE`). Each
 * record is encoded whole and written with one write loop on a file opened
 * for appending, so a crash can leave at most a truncated last record, which
 * the reader reports at its offset after everything before it.
 */
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import type { Recorder } from "@froctal/manager";
import {
  encodeTraceHeader,
  encodeTraceRecord,
  FroctalError,
  readTrace,
  type Trace,
  type TraceStart,
} from "@froctal/protocol";

export class TraceFile {
  private readonly fd: number;
  /** Records accepted before the header could be written (the fleet id is known only after restore()). */
  private early: Uint8Array[] | undefined = [];
  private closed = false;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, "w");
    } catch (cause) {
      throw new FroctalError("FROCTAL_E_CONFIG", `cannot write the trace ${path}: ${(cause as Error).message}`, {
        cause,
      });
    }
  }

  /** Hand this to ManagerOptions.record. */
  readonly record: Recorder = (record) => {
    if (this.closed) return;
    const bytes = encodeTraceRecord(record);
    if (this.early !== undefined) this.early.push(bytes);
    else this.write(bytes);
  };

  /** Writes the header, then what was recorded before it. */
  begin(start: TraceStart): void {
    this.write(encodeTraceHeader(start));
    for (const bytes of this.early ?? []) this.write(bytes);
    this.early = undefined;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }

  private write(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += writeSync(this.fd, bytes, done, bytes.length - done);
  }
}

/** Reads a trace file: refuses a missing, foreign or unknown-version file at once (see readTrace). */
export function readTraceFile(path: string): Trace {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (cause) {
    throw new FroctalError("FROCTAL_E_NOT_FOUND", `cannot read the trace ${path}: ${(cause as Error).message}`, {
      cause,
    });
  }
  const named = (error: unknown) =>
    error instanceof FroctalError ? new FroctalError(error.code, `${path}: ${error.sentence}`) : error;
  let trace: Trace;
  try {
    trace = readTrace(bytes);
  } catch (error) {
    throw named(error);
  }
  // Records are read lazily: their errors come later, and name the file too.
  return {
    header: trace.header,
    headerBytes: trace.headerBytes,
    *records() {
      try {
        yield* trace.records();
      } catch (error) {
        throw named(error);
      }
    },
    *inputs() {
      try {
        yield* trace.inputs();
      } catch (error) {
        throw named(error);
      }
    },
  };
}
