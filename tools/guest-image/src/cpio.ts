/**
 * The initramfs archive: cpio in the "newc" format the kernel unpacks
 * (Documentation/driver-api/early-userspace/buffer-format.rst), written as a
 * pure function over bytes. Owners are root, times are zero and entries are
 * sorted, so the same inputs always give the same bytes: the archive's hash
 * is what decides whether an image must be rebuilt.
 */

export type CpioEntry =
  | { readonly kind: "file"; readonly path: string; readonly mode: number; readonly data: Uint8Array }
  | { readonly kind: "dir"; readonly path: string; readonly mode: number }
  | { readonly kind: "symlink"; readonly path: string; readonly target: string }
  | {
      readonly kind: "chardev";
      readonly path: string;
      readonly mode: number;
      readonly major: number;
      readonly minor: number;
    };

const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;
const TRAILER = "TRAILER!!!";
const encoder = new TextEncoder();

/**
 * The archive's bytes, chunk by chunk (file contents are not copied). Parent
 * directories are added where missing (0755); a path given twice is an error.
 */
export function* cpioChunks(entries: readonly CpioEntry[]): Generator<Uint8Array> {
  let ino = 0;
  for (const entry of withParents(entries)) {
    const data = contentOf(entry);
    yield header(entry.path, modeOf(entry), ++ino, entry.kind === "dir" ? 2 : 1, data.length, entry);
    if (data.length > 0) {
      yield data;
      yield padding(data.length);
    }
  }
  yield header(TRAILER, 0, 0, 1, 0);
}

/** The whole archive in one buffer, for tests and small archives. */
export function cpio(entries: readonly CpioEntry[]): Uint8Array {
  return Buffer.concat([...cpioChunks(entries)]);
}

/** Entries by normalised path (no leading slash), parents first, each once. */
function withParents(entries: readonly CpioEntry[]): CpioEntry[] {
  const byPath = new Map<string, CpioEntry>();
  for (const entry of entries) {
    const path = normalise(entry.path);
    if (byPath.has(path)) throw new Error(`the initramfs lists ${path} twice`);
    byPath.set(path, { ...entry, path });
  }
  for (const path of [...byPath.keys()]) {
    for (let dir = parentOf(path); dir !== ""; dir = parentOf(dir)) {
      const existing = byPath.get(dir);
      if (existing === undefined) byPath.set(dir, { kind: "dir", path: dir, mode: 0o755 });
      else if (existing.kind !== "dir") throw new Error(`the initramfs has ${dir} as a ${existing.kind} and a folder`);
    }
  }
  // A parent's path is a prefix of its children's, so plain order puts it first.
  return [...byPath.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function normalise(path: string): string {
  const clean = path.replace(/^\/+/, "").replace(/\/+$/, "");
  if (clean === "" || clean.split("/").some((part) => part === "" || part === "." || part === "..")) {
    throw new Error(`not a path inside the initramfs: ${JSON.stringify(path)}`);
  }
  return clean;
}

function parentOf(path: string): string {
  const slash = path.lastIndexOf("/");
  return slash < 0 ? "" : path.slice(0, slash);
}

function modeOf(entry: CpioEntry): number {
  switch (entry.kind) {
    case "file":
      return S_IFREG | (entry.mode & 0o7777);
    case "dir":
      return S_IFDIR | (entry.mode & 0o7777);
    case "symlink":
      return S_IFLNK | 0o777;
    case "chardev":
      return S_IFCHR | (entry.mode & 0o7777);
  }
}

function contentOf(entry: CpioEntry): Uint8Array {
  switch (entry.kind) {
    case "file":
      return entry.data;
    case "symlink":
      return encoder.encode(entry.target);
    case "dir":
    case "chardev":
      return new Uint8Array(0);
  }
}

function header(path: string, mode: number, ino: number, nlink: number, size: number, entry?: CpioEntry): Uint8Array {
  const name = encoder.encode(`${path}\0`);
  const rdev = entry?.kind === "chardev" ? [entry.major, entry.minor] : [0, 0];
  // magic, ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor, namesize, check
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev[0]!, rdev[1]!, name.length, 0];
  const text = `070701${fields.map(hex8).join("")}`;
  const head = encoder.encode(text);
  return Buffer.concat([head, name, padding(head.length + name.length)]);
}

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`a cpio field cannot hold ${n}`);
  return n.toString(16).padStart(8, "0");
}

/** Zero bytes that bring `length` up to a multiple of four. */
function padding(length: number): Uint8Array {
  return new Uint8Array((4 - (length % 4)) % 4);
}
