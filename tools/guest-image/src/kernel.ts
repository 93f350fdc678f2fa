/**
 * The kernel side of the image, taken from an unpacked Debian kernel package:
 * the bootable vmlinuz and the modules the guest needs, uncompressed (busybox's
 * insmod reads plain .ko files only) and listed in the order to load them.
 */

import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { FroctalError } from "@froctal/protocol";
import { run } from "./exec.js";
import { dependsOf, loadOrder, moduleName, readModinfo } from "./modinfo.js";

/**
 * virtio-serial (the port to the manager) over PCI, and virtio-net with the
 * failover pair it depends on, for NICs plugged in later. Their dependencies
 * (virtio, virtio_ring, virtio_pci_*_dev, ...) follow from each module's modinfo.
 */
export const DEFAULT_MODULES: readonly string[] = ["virtio_pci", "virtio_console", "virtio_net"];

export interface KernelModule {
  readonly name: string;
  readonly data: Uint8Array;
}

export interface KernelParts {
  /** `uname -r` of the kernel, e.g. 6.1.0-56-cloud-amd64. */
  readonly release: string;
  readonly vmlinuz: string;
  /** In load order. */
  readonly modules: readonly KernelModule[];
}

const MODULE_FILE = /\.ko(\.xz|\.zst|\.gz)?$/;

/** Finds the kernel and `wanted` modules (with their dependencies) in an unpacked kernel package. */
export async function kernelParts(root: string, wanted: readonly string[] = DEFAULT_MODULES): Promise<KernelParts> {
  const vmlinuz = (await readdir(join(root, "boot"))).filter((name) => name.startsWith("vmlinuz-"));
  const releases = await readdir(join(root, "lib/modules"));
  if (vmlinuz.length !== 1 || releases.length !== 1) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${root} does not hold exactly one kernel (boot: ${vmlinuz.join(", ") || "none"}; modules: ${releases.join(", ") || "none"})`,
    );
  }
  const release = releases[0]!;
  const moduleDir = join(root, "lib/modules", release);
  const files = await moduleFiles(moduleDir);
  const builtin = await builtinModules(moduleDir);

  const loaded = new Map<string, Uint8Array>();
  const load = async (name: string) => {
    const file = files.get(name);
    if (file === undefined) {
      throw new FroctalError("FROCTAL_E_CONFIG", `kernel ${release} has no module ${name}, built in or as a file`);
    }
    loaded.set(name, await readModule(file));
  };
  // modinfo is read while walking, so dependencies are discovered as they are needed.
  const pending = wanted.map(moduleName).filter((name) => !builtin.has(name));
  const depends = new Map<string, string[]>();
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (depends.has(name)) continue;
    await load(name);
    const deps = dependsOf(readModinfo(loaded.get(name)!)).map(moduleName);
    depends.set(name, deps);
    pending.push(...deps.filter((dep) => !builtin.has(dep) && !depends.has(dep)));
  }
  const order = loadOrder(wanted, (name) => depends.get(name) ?? [], builtin);
  return {
    release,
    vmlinuz: join(root, "boot", vmlinuz[0]!),
    modules: order.map((name) => ({ name, data: loaded.get(name)! })),
  };
}

/** Module name -> file, for every module file under `dir`. */
async function moduleFiles(dir: string): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!entry.isFile() || !MODULE_FILE.test(entry.name)) continue;
    files.set(moduleName(entry.name.replace(MODULE_FILE, "")), join(entry.parentPath, entry.name));
  }
  return files;
}

/** Names of the modules compiled into the kernel image (modules.builtin lists them as paths). */
async function builtinModules(dir: string): Promise<Set<string>> {
  const text = await readFile(join(dir, "modules.builtin"), "utf8").catch(() => "");
  return new Set(
    text
      .split("\n")
      .filter((line) => line.endsWith(".ko"))
      .map((line) => moduleName(line.slice(line.lastIndexOf("/") + 1, -".ko".length))),
  );
}

async function readModule(file: string): Promise<Uint8Array> {
  if (file.endsWith(".xz")) return run("xz", ["-dc", file], { binary: true });
  if (file.endsWith(".zst")) return run("zstd", ["-dc", file], { binary: true });
  if (file.endsWith(".gz")) return gunzipSync(await readFile(file));
  return readFile(file);
}
