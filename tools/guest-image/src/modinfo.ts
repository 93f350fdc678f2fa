/**
 * What a kernel module says about itself, read from its ELF `.modinfo`
 * section (NUL-separated key=value strings: name, depends, ...), and the
 * order to load a set of modules in. Pure functions over bytes: the kernel
 * package ships no modules.dep (depmod makes it when installing), and
 * busybox's insmod loads one file and resolves nothing.
 */

/** Every key=value of the module's .modinfo section; a key may repeat (alias). */
export function readModinfo(elf: Uint8Array): Map<string, string[]> {
  const bytes = Buffer.from(elf.buffer, elf.byteOffset, elf.byteLength);
  if (bytes.length < 64 || bytes.readUInt32BE(0) !== 0x7f454c46) throw new Error("not an ELF file");
  if (bytes[4] !== 2 || bytes[5] !== 1) throw new Error("not a 64-bit little-endian ELF file");
  const shoff = Number(bytes.readBigUInt64LE(0x28));
  const shentsize = bytes.readUInt16LE(0x3a);
  const shnum = bytes.readUInt16LE(0x3c);
  const shstrndx = bytes.readUInt16LE(0x3e);
  if (shoff + shnum * shentsize > bytes.length || shstrndx >= shnum) throw new Error("truncated ELF section table");

  const section = (i: number) => {
    const at = shoff + i * shentsize;
    return {
      name: bytes.readUInt32LE(at),
      offset: Number(bytes.readBigUInt64LE(at + 24)),
      size: Number(bytes.readBigUInt64LE(at + 32)),
    };
  };
  const names = section(shstrndx);
  const nameOf = (offset: number) => {
    const start = names.offset + offset;
    return bytes.toString("latin1", start, bytes.indexOf(0, start));
  };

  const info = new Map<string, string[]>();
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameOf(s.name) !== ".modinfo") continue;
    if (s.offset + s.size > bytes.length) throw new Error("truncated .modinfo section");
    for (const pair of bytes.toString("utf8", s.offset, s.offset + s.size).split("\0")) {
      const eq = pair.indexOf("=");
      if (eq <= 0) continue;
      const key = pair.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), pair.slice(eq + 1)]);
    }
    return info;
  }
  throw new Error("no .modinfo section: not a kernel module");
}

/** The modules a module needs loaded first (its `depends=`). */
export function dependsOf(info: ReadonlyMap<string, readonly string[]>): string[] {
  return (info.get("depends") ?? []).flatMap((list) => list.split(",")).filter((name) => name !== "");
}

/** Module names are spelled with either "-" or "_"; the kernel treats them alike. */
export function moduleName(name: string): string {
  return name.replace(/-/g, "_");
}

/**
 * `wanted` and everything they depend on, each after its dependencies, in a
 * stable order. `depends(name)` answers for a module that is a file; a name
 * in `builtin` is part of the kernel image and is left out.
 */
export function loadOrder(
  wanted: readonly string[],
  depends: (name: string) => readonly string[],
  builtin: ReadonlySet<string> = new Set(),
): string[] {
  const order: string[] = [];
  const state = new Map<string, "visiting" | "done">();
  const visit = (raw: string, path: readonly string[]) => {
    const name = moduleName(raw);
    if (builtin.has(name) || state.get(name) === "done") return;
    if (state.get(name) === "visiting")
      throw new Error(`modules depend on each other: ${[...path, name].join(" -> ")}`);
    state.set(name, "visiting");
    for (const dep of depends(name)) visit(dep, [...path, name]);
    state.set(name, "done");
    order.push(name);
  };
  for (const name of wanted) visit(name, []);
  return order;
}
