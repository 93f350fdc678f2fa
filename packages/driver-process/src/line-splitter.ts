/**
 * Cuts one guest stream into lines. It holds at most `maxBytes` of an unfinished
 * line, so a guest that prints without newlines cannot make the manager buffer
 * more than that: the rest of an over-long line is counted, not kept, and the
 * line is delivered cut, with a note saying how long it was.
 */
export class LineSplitter {
  readonly #maxBytes: number;
  readonly #onLine: (line: string) => void;
  /** Kept bytes of the current line; their total never exceeds maxBytes. */
  #parts: Buffer[] = [];
  #kept = 0;
  /** Bytes of the current line seen so far, kept or not. */
  #seen = 0;

  constructor(maxBytes: number, onLine: (line: string) => void) {
    this.#maxBytes = maxBytes;
    this.#onLine = onLine;
  }

  push(chunk: Buffer): void {
    let start = 0;
    while (start < chunk.length) {
      const newline = chunk.indexOf(0x0a, start);
      if (newline === -1) {
        this.#take(chunk, start, chunk.length);
        return;
      }
      if (this.#seen === 0 && newline - start <= this.#maxBytes) {
        // The common case, a whole line inside one chunk: no copy.
        this.#onLine(stripCarriageReturn(chunk.toString("utf8", start, newline)));
      } else {
        this.#take(chunk, start, newline);
        this.#flush();
      }
      start = newline + 1;
    }
  }

  /** The stream ended: a last line without a newline is still a line. */
  end(): void {
    if (this.#seen > 0) this.#flush();
  }

  #take(chunk: Buffer, start: number, end: number): void {
    this.#seen += end - start;
    const room = this.#maxBytes - this.#kept;
    const take = Math.min(room, end - start);
    if (take <= 0) return;
    // A copy: a view would pin the stream's whole chunk for as long as the line is open.
    this.#parts.push(Buffer.from(chunk.subarray(start, start + take)));
    this.#kept += take;
  }

  #flush(): void {
    const bytes = this.#parts.length === 1 ? this.#parts[0]! : Buffer.concat(this.#parts, this.#kept);
    const seen = this.#seen;
    this.#parts = [];
    this.#kept = 0;
    this.#seen = 0;
    const text = bytes.toString("utf8");
    if (seen <= bytes.length) {
      this.#onLine(stripCarriageReturn(text));
      return;
    }
    // The cut may split a multi-byte character, which decodes as U+FFFD: drop it.
    this.#onLine(`${text.replace(/\uFFFD+$/, "")}… [line of ${seen} bytes cut to ${this.#maxBytes}]`);
  }
}

function stripCarriageReturn(line: string): string {
  return line.endsWith("\r") ? line.slice(0, -1) : line;
}
