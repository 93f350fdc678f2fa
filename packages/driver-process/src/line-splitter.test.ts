import { describe, expect, it } from "vitest";
import { LineSplitter } from "./line-splitter.js";

function split(chunks: readonly (string | Buffer)[], maxBytes = 64): string[] {
  const lines: string[] = [];
  const splitter = new LineSplitter(maxBytes, (line) => lines.push(line));
  for (const chunk of chunks) splitter.push(typeof chunk === "string" ? Buffer.from(chunk) : chunk);
  splitter.end();
  return lines;
}

describe("LineSplitter", () => {
  it("cuts at newlines, whatever the chunking", () => {
    expect(split(["a\nb", "c\n\nd", "\n"])).toEqual(["a", "bc", "", "d"]);
    expect(split(["one\ntwo\nthree\n"])).toEqual(["one", "two", "three"]);
  });

  it("drops the carriage return of CRLF lines", () => {
    expect(split(["dos\r\nunix\n"])).toEqual(["dos", "unix"]);
  });

  it("hands on a last line without a newline when the stream ends", () => {
    expect(split(["a\nlast"])).toEqual(["a", "last"]);
    expect(split(["a\n"])).toEqual(["a"]);
  });

  it("keeps a multi-byte character whole when it is split across chunks", () => {
    const bytes = Buffer.from("é\n");
    expect(split([bytes.subarray(0, 1), bytes.subarray(1)])).toEqual(["é"]);
  });

  it("cuts an over-long line to maxBytes, says how long it was, and carries on", () => {
    const lines = split(["x".repeat(50), "y".repeat(50), "\nnext\n"], 64);
    expect(lines).toEqual([`${"x".repeat(50)}${"y".repeat(14)}… [line of 100 bytes cut to 64]`, "next"]);
  });

  it("cuts an over-long line that arrives in one chunk", () => {
    const lines = split([`${"z".repeat(200)}\nok\n`], 16);
    expect(lines).toEqual([`${"z".repeat(16)}… [line of 200 bytes cut to 16]`, "ok"]);
  });

  it("does not leave half a character where it cuts", () => {
    // 5 two-byte characters: the cut at 7 bytes falls inside the fourth.
    const [line] = split(["ééééé\n"], 7);
    expect(line).toBe("ééé… [line of 10 bytes cut to 7]");
  });

  it("holds no more than maxBytes of a line that never ends", () => {
    const lines: string[] = [];
    const splitter = new LineSplitter(1024, (line) => lines.push(line));
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 64; i++) splitter.push(chunk);
    expect(lines).toEqual([]);
    splitter.end();
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^a{1024}… \[line of 4194304 bytes cut to 1024\]$/);
  });
});
