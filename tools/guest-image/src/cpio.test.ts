import { describe, expect, it } from "vitest";
import { type CpioEntry, cpio } from "./cpio.js";

interface Read {
  readonly path: string;
  readonly mode: number;
  readonly nlink: number;
  readonly mtime: number;
  readonly rdev: readonly [number, number];
  readonly data: string;
}

/** A newc reader as the kernel reads it: header, name, pad to 4, data, pad to 4, until the trailer. */
function readNewc(bytes: Uint8Array): Read[] {
  const text = Buffer.from(bytes);
  const out: Read[] = [];
  let at = 0;
  for (;;) {
    expect(text.toString("latin1", at, at + 6)).toBe("070701");
    const field = (i: number) => Number.parseInt(text.toString("latin1", at + 6 + i * 8, at + 14 + i * 8), 16);
    const [mode, nlink, mtime, size, rmaj, rmin, namesize] = [
      field(1),
      field(4),
      field(5),
      field(6),
      field(9),
      field(10),
      field(11),
    ];
    const name = text.toString("latin1", at + 110, at + 110 + namesize - 1);
    expect(text[at + 110 + namesize - 1]).toBe(0);
    at = align(at + 110 + namesize);
    const data = text.toString("latin1", at, at + size);
    at = align(at + size);
    if (name === "TRAILER!!!") break;
    out.push({ path: name, mode, nlink, mtime, rdev: [rmaj, rmin], data });
  }
  expect(at).toBe(bytes.length);
  return out;
}

const align = (n: number) => (n + 3) & ~3;
const file = (path: string, data: string, mode = 0o644): CpioEntry => ({
  kind: "file",
  path,
  mode,
  data: Buffer.from(data),
});

describe("cpio (newc)", () => {
  it("writes files, folders, links and devices the way the kernel reads them", () => {
    const entries = readNewc(
      cpio([
        file("/init", "#!/bin/sh\n", 0o755),
        file("/usr/bin/node", "ELF"),
        { kind: "symlink", path: "/bin/sh", target: "busybox" },
        { kind: "chardev", path: "/dev/console", mode: 0o600, major: 5, minor: 1 },
        { kind: "dir", path: "/tmp", mode: 0o1777 },
      ]),
    );
    expect(entries.map((e) => [e.path, e.mode.toString(8)])).toEqual([
      ["bin", "40755"],
      ["bin/sh", "120777"],
      ["dev", "40755"],
      ["dev/console", "20600"],
      ["init", "100755"],
      ["tmp", "41777"],
      ["usr", "40755"],
      ["usr/bin", "40755"],
      ["usr/bin/node", "100644"],
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get("init")?.data).toBe("#!/bin/sh\n");
    expect(byPath.get("bin/sh")?.data).toBe("busybox");
    expect(byPath.get("dev/console")?.rdev).toEqual([5, 1]);
    expect(entries.every((e) => e.mtime === 0)).toBe(true);
  });

  it("pads names and contents of every length to four bytes", () => {
    const lengths = [0, 1, 2, 3, 4, 5];
    const entries = readNewc(cpio(lengths.map((n) => file(`/f${"x".repeat(n)}`, "y".repeat(n)))));
    expect(entries.map((e) => e.data.length)).toEqual(lengths);
  });

  it("gives the same bytes for the same entries in any order", () => {
    const a = [file("/a/b", "1"), file("/c", "2"), file("/a/d", "3")];
    expect(Buffer.from(cpio(a)).equals(Buffer.from(cpio([...a].reverse())))).toBe(true);
  });

  it("refuses a path twice, a path through a file, and paths leaving the archive", () => {
    expect(() => cpio([file("/a", "1"), file("a", "2")])).toThrow(/lists a twice/);
    expect(() => cpio([file("/a", "1"), file("/a/b", "2")])).toThrow(/a file and a folder/);
    expect(() => cpio([file("/../etc/passwd", "x")])).toThrow(/not a path inside/);
    expect(() => cpio([file("/", "x")])).toThrow(/not a path inside/);
  });
});
