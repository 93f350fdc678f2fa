import { describe, expect, it } from "vitest";
import { dependsOf, loadOrder, readModinfo } from "./modinfo.js";

/** A minimal ELF64 little-endian file with the given sections (name -> contents). */
function elf(sections: Record<string, string>): Uint8Array {
  const names = ["", ...Object.keys(sections), ".shstrtab"];
  const strtab = `${names.join("\0")}\0`;
  const bodies = [...Object.values(sections), strtab];
  const headerSize = 64;
  let offset = headerSize;
  const placed = bodies.map((body) => {
    const at = offset;
    offset += Buffer.byteLength(body);
    return { at, size: Buffer.byteLength(body) };
  });
  const shoff = (offset + 7) & ~7;
  const shnum = names.length;
  const out = Buffer.alloc(shoff + shnum * 64);
  out.writeUInt32BE(0x7f454c46, 0);
  out[4] = 2;
  out[5] = 1;
  out.writeBigUInt64LE(BigInt(shoff), 0x28);
  out.writeUInt16LE(64, 0x3a);
  out.writeUInt16LE(shnum, 0x3c);
  out.writeUInt16LE(shnum - 1, 0x3e);
  bodies.forEach((body, i) => {
    out.write(body, placed[i]!.at, "utf8");
  });
  let nameAt = 1;
  for (let i = 1; i < shnum; i++) {
    const at = shoff + i * 64;
    out.writeUInt32LE(nameAt, at);
    nameAt += Buffer.byteLength(names[i]!) + 1;
    out.writeBigUInt64LE(BigInt(placed[i - 1]!.at), at + 24);
    out.writeBigUInt64LE(BigInt(placed[i - 1]!.size), at + 32);
  }
  return out;
}

describe("readModinfo", () => {
  it("reads the key=value strings of .modinfo, keeping repeated keys", () => {
    const info = readModinfo(
      elf({
        ".text": "\x90\x90",
        ".modinfo":
          "license=GPL\0alias=virtio:d00000003v*\0alias=pci:v1AF4\0depends=virtio,virtio_ring\0name=virtio_console\0",
      }),
    );
    expect(info.get("name")).toEqual(["virtio_console"]);
    expect(info.get("alias")).toHaveLength(2);
    expect(dependsOf(info)).toEqual(["virtio", "virtio_ring"]);
  });

  it("reads an empty depends= as no dependency", () => {
    expect(dependsOf(readModinfo(elf({ ".modinfo": "depends=\0name=failover\0" })))).toEqual([]);
  });

  it("says what is wrong with a file that is no module", () => {
    expect(() => readModinfo(new Uint8Array(100))).toThrow(/not an ELF file/);
    expect(() => readModinfo(elf({ ".text": "x" }))).toThrow(/no .modinfo section/);
  });
});

describe("loadOrder", () => {
  const deps: Record<string, string[]> = {
    virtio_pci: ["virtio_ring", "virtio_pci_modern_dev", "virtio_pci_legacy_dev", "virtio"],
    virtio: ["virtio_ring"],
    virtio_console: ["virtio", "virtio_ring"],
    virtio_net: ["virtio_ring", "virtio", "net_failover"],
    net_failover: ["failover"],
  };
  const depends = (name: string) => deps[name] ?? [];

  it("puts every module after what it depends on, each once", () => {
    const order = loadOrder(["virtio_pci", "virtio_console", "virtio-net"], depends);
    expect(order).toEqual([
      "virtio_ring",
      "virtio_pci_modern_dev",
      "virtio_pci_legacy_dev",
      "virtio",
      "virtio_pci",
      "virtio_console",
      "failover",
      "net_failover",
      "virtio_net",
    ]);
  });

  it("leaves out modules built into the kernel", () => {
    expect(loadOrder(["virtio_console"], depends, new Set(["virtio", "virtio_ring"]))).toEqual(["virtio_console"]);
  });

  it("names a dependency cycle", () => {
    expect(() => loadOrder(["a"], (n) => (n === "a" ? ["b"] : ["a"]))).toThrow("a -> b -> a");
  });
});
