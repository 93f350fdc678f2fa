/** The trace file on disk: whole records, the header first whatever was recorded before it, bad files refused. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeTraceRecord, FroctalError } from "@froctal/protocol";
import { afterAll, describe, expect, it } from "vitest";
import { readTraceFile, TraceFile } from "./trace-file.js";

const dir = mkdtempSync(join(tmpdir(), "froctal-trace-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const start = {
  fleet: "f",
  fleetId: "id",
  nonceTag: "n",
  startedAt: 1,
  startedWall: 2,
  fleetModule: "/m.js",
  lastOrdinal: 41,
};

function written(name: string): string {
  const path = join(dir, name);
  const file = new TraceFile(path);
  // Guests may connect while restore() reads the fleet's id: their records wait for the header.
  file.record({ at: 1, token: "early" });
  file.begin(start);
  file.record({ at: 2, closed: { instanceId: "web-1", reason: "bye" } });
  file.record({ at: 3, tick: { inputs: 2 } });
  file.close();
  // Nothing is written once closed.
  file.record({ at: 4, tick: { inputs: 0 } });
  return path;
}

describe("TraceFile", () => {
  it("writes the header first, then every record in order, and nothing after close", () => {
    const trace = readTraceFile(written("a.trace"));
    expect(trace.header.fleetModule).toBe("/m.js");
    expect(trace.header.lastOrdinal).toBe(41);
    expect([...trace.inputs()]).toEqual([
      { at: 1, kind: "token", token: "early" },
      { at: 2, kind: "closed", instanceId: "web-1", reason: "bye" },
      { at: 3, kind: "tick", inputs: 2 },
    ]);
  });

  it("reads what precedes a tail cut mid-record, then names the file and the offset", () => {
    const bytes = readFileSync(written("b.trace"));
    const tick = encodeTraceRecord({ at: 3, tick: { inputs: 2 } }).length;
    const cut = join(dir, "cut.trace");
    writeFileSync(cut, bytes.subarray(0, bytes.length - 2));
    const seen: string[] = [];
    let error: unknown;
    try {
      for (const i of readTraceFile(cut).inputs()) seen.push(i.kind);
    } catch (e) {
      error = e;
    }
    expect(seen).toEqual(["token", "closed"]);
    expect(error).toBeInstanceOf(FroctalError);
    expect((error as Error).message).toMatch(
      new RegExp(`^FROCTAL_E_TRACE: ${cut}: the trace is damaged at byte offset ${bytes.length - tick}: truncated: `),
    );
  });

  it("refuses a missing or foreign file, naming it", () => {
    const missing = join(dir, "none.trace");
    expect(() => readTraceFile(missing)).toThrow(`FROCTAL_E_NOT_FOUND: cannot read the trace ${missing}: ENOENT`);
    const text = join(dir, "text.trace");
    writeFileSync(text, "not a trace\n");
    expect(() => readTraceFile(text)).toThrow(`FROCTAL_E_TRACE: ${text}: not a froctal trace (at byte offset 0: `);
  });

  it("refuses a file it cannot create", () => {
    expect(() => new TraceFile(join(dir, "no-such-dir", "x.trace"))).toThrow(
      /^FROCTAL_E_CONFIG: cannot write the trace .*no-such-dir\/x\.trace: ENOENT/,
    );
  });
});
