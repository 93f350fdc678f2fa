/**
 * buildImage: a bootable guest for one froctal app. Gathers the parts (kernel
 * and modules, busybox, node and its libraries, the bundled app, /init),
 * lays them out as a cpio archive and writes <out>/vmlinuz, <out>/initrd.img
 * (gzip'd newc cpio) and <out>/manifest.json.
 *
 * Cached twice over: Debian packages are downloaded and unpacked once into
 * the cache folder, and the initramfs is compressed again only when the
 * archive's bytes (whose hash the manifest keeps) differ from the last build.
 */
import { createHash } from "node:crypto";
import { createWriteStream } from "node:fs";
import { mkdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { basename, extname, join, resolve } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { fileURLToPath } from "node:url";
import { createGzip } from "node:zlib";
import { FroctalError } from "@froctal/protocol";
import { bundleApp } from "./bundle.js";
import { type CpioEntry, cpioChunks } from "./cpio.js";
import { fetchDeb, firstDependency, unpack } from "./debian.js";
import { initScript } from "./init-script.js";
import { DEFAULT_MODULES, type KernelParts, kernelParts } from "./kernel.js";
import { DEFAULT_PORT } from "./qemu.js";
import { type NodeRuntime, nodeRuntime } from "./runtime.js";

export interface BuildOptions {
  /** The guest app's entry, .ts or .js; it imports @froctal/agent like any guest. */
  readonly app: string;
  readonly outDir: string;
  /** For the manifest and the log; default the entry's file name. */
  readonly name?: string;
  /** Default tools/guest-image/.cache. */
  readonly cacheDir?: string;
  /** The node binary to ship; default the one running this build. */
  readonly node?: string;
  /** A Debian meta package whose first dependency is the kernel. Default linux-image-cloud-amd64. */
  readonly kernelPackage?: string;
  /** Modules to load at boot (dependencies follow). Default virtio_pci, virtio_console, virtio_net. */
  readonly modules?: readonly string[];
  /** The virtio-serial port /init looks for when the command line names none. Default froctal.0. */
  readonly portName?: string;
  /** Progress lines; default silent. */
  readonly log?: (line: string) => void;
}

export interface GuestImage {
  readonly name: string;
  readonly kernel: string;
  readonly initrd: string;
  readonly manifest: string;
  readonly kernelBytes: number;
  readonly initrdBytes: number;
  /** False when the last build's initramfs already had these exact contents. */
  readonly rebuilt: boolean;
}

/** What <out>/manifest.json records. */
export interface Manifest {
  readonly name: string;
  readonly app: string;
  readonly kernel: {
    readonly package: string;
    readonly version: string;
    readonly release: string;
    readonly bytes: number;
  };
  readonly initrd: { readonly cpioSha256: string; readonly bytes: number; readonly uncompressedBytes: number };
  readonly modules: readonly string[];
  readonly busybox: string;
  readonly node: { readonly version: string; readonly stripped: boolean; readonly libraries: readonly string[] };
  readonly appBytes: number;
  readonly portName: string;
}

export const DEFAULT_CACHE_DIR = fileURLToPath(new URL("../.cache/", import.meta.url));
const KERNEL_META = "linux-image-cloud-amd64";
const MODULE_DIR = "/lib/modules/froctal";
const NODE_PATH = "/usr/bin/node";
const APP_PATH = "/app.mjs";
// Level 9 takes twice as long as 6 for 0.3% less; the guest decompresses either as fast.
const GZIP_LEVEL = 6;

export async function buildImage(options: BuildOptions): Promise<GuestImage> {
  const app = resolve(options.app);
  const outDir = resolve(options.outDir);
  const cacheDir = resolve(options.cacheDir ?? DEFAULT_CACHE_DIR);
  const name = options.name ?? basename(app, extname(app));
  const portName = options.portName ?? DEFAULT_PORT;
  const log = options.log ?? (() => {});
  if (
    !(await stat(app).then(
      (s) => s.isFile(),
      () => false,
    ))
  ) {
    throw new FroctalError("FROCTAL_E_CONFIG", `the guest app ${app} is not a file`);
  }

  // A first build downloads and unpacks for minutes; each slow step says so before it starts.
  log(`${name}: fetching the kernel, busybox and node (cached in ${cacheDir} after the first build)`);
  const [kernel, busybox, node] = await Promise.all([
    kernelFrom(cacheDir, options.kernelPackage ?? KERNEL_META, options.modules ?? DEFAULT_MODULES),
    busyboxFrom(cacheDir),
    nodeRuntime(cacheDir, options.node),
  ]);
  log(`${name}: bundling ${app}`);
  const bundle = await bundleApp(app, Number(node.version.replace(/^v/, "").split(".")[0]));
  log(
    `${name}: kernel ${kernel.parts.release}, busybox ${busybox.version}, node ${node.version}, app ${bundle.length} bytes`,
  );

  const entries = layout(kernel.parts, busybox.binary, node, bundle, portName);
  const { sha256, bytes: uncompressedBytes } = digest(cpioChunks(entries));

  await mkdir(outDir, { recursive: true });
  const paths = {
    kernel: join(outDir, "vmlinuz"),
    initrd: join(outDir, "initrd.img"),
    manifest: join(outDir, "manifest.json"),
  };
  const previous = await readManifest(paths.manifest);
  const kernelBytes = await copyIfChanged(kernel.parts.vmlinuz, paths.kernel);
  const current = await stat(paths.initrd).then(
    (s) => s.size,
    () => -1,
  );
  const rebuilt = previous?.initrd.cpioSha256 !== sha256 || previous.initrd.bytes !== current;
  if (rebuilt) {
    log(`${name}: writing ${paths.initrd} (${mib(uncompressedBytes)} to compress)`);
    await writeGzip(cpioChunks(entries), paths.initrd);
  }
  const initrdBytes = (await stat(paths.initrd)).size;

  const manifest: Manifest = {
    name,
    app,
    kernel: { package: kernel.deb, version: kernel.version, release: kernel.parts.release, bytes: kernelBytes },
    initrd: { cpioSha256: sha256, bytes: initrdBytes, uncompressedBytes },
    modules: kernel.parts.modules.map((m) => m.name),
    busybox: busybox.version,
    node: { version: node.version, stripped: node.stripped, libraries: node.libraries.map((l) => l.path) },
    appBytes: bundle.length,
    portName,
  };
  await writeFile(paths.manifest, `${JSON.stringify(manifest, null, 2)}\n`);
  log(
    `${name}: vmlinuz ${mib(kernelBytes)}, initrd.img ${mib(initrdBytes)} (${mib(uncompressedBytes)} unpacked)${rebuilt ? "" : ", unchanged"}`,
  );
  return { name, ...paths, kernelBytes, initrdBytes, rebuilt };
}

/** Everything in the initramfs, at the paths the guest sees. */
function layout(
  kernel: KernelParts,
  busybox: Uint8Array,
  node: NodeRuntime,
  app: Uint8Array,
  port: string,
): CpioEntry[] {
  const script = initScript({
    modules: kernel.modules.map((m) => m.name),
    moduleDir: MODULE_DIR,
    node: NODE_PATH,
    app: APP_PATH,
    defaultPort: port,
  });
  return [
    { kind: "file", path: "/init", mode: 0o755, data: Buffer.from(script) },
    { kind: "file", path: "/bin/busybox", mode: 0o755, data: busybox },
    // The kernel opens /dev/console for /init before anything is mounted.
    { kind: "chardev", path: "/dev/console", mode: 0o600, major: 5, minor: 1 },
    { kind: "dir", path: "/proc", mode: 0o555 },
    { kind: "dir", path: "/sys", mode: 0o555 },
    { kind: "dir", path: "/tmp", mode: 0o1777 },
    { kind: "dir", path: "/root", mode: 0o700 },
    ...kernel.modules.map(
      (m): CpioEntry => ({ kind: "file", path: `${MODULE_DIR}/${m.name}.ko`, mode: 0o644, data: m.data }),
    ),
    { kind: "file", path: NODE_PATH, mode: 0o755, data: node.binary },
    ...node.libraries.map((l): CpioEntry => ({ kind: "file", path: l.path, mode: 0o755, data: l.data })),
    { kind: "file", path: APP_PATH, mode: 0o644, data: app },
  ];
}

async function kernelFrom(cacheDir: string, meta: string, modules: readonly string[]) {
  const image = await fetchDeb(cacheDir, await firstDependency(await fetchDeb(cacheDir, meta)));
  const parts = await kernelParts(await unpack(cacheDir, image), modules);
  return { deb: image.package, version: image.version, parts };
}

async function busyboxFrom(cacheDir: string) {
  const deb = await fetchDeb(cacheDir, "busybox-static");
  const binary = await readFile(join(await unpack(cacheDir, deb), "bin/busybox"));
  return { version: deb.version, binary };
}

function digest(chunks: Iterable<Uint8Array>): { sha256: string; bytes: number } {
  const hash = createHash("sha256");
  let bytes = 0;
  for (const chunk of chunks) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha256: hash.digest("hex"), bytes };
}

async function writeGzip(chunks: Iterable<Uint8Array>, path: string): Promise<void> {
  const scratch = `${path}.${process.pid}.tmp`;
  try {
    await pipeline(Readable.from(chunks), createGzip({ level: GZIP_LEVEL }), createWriteStream(scratch));
    await rename(scratch, path);
  } finally {
    await rm(scratch, { force: true });
  }
}

/** Copies `from` to `to` unless `to` already holds the same bytes; returns the size. */
async function copyIfChanged(from: string, to: string): Promise<number> {
  const data = await readFile(from);
  const existing = await readFile(to).catch(() => undefined);
  if (!existing?.equals(data)) {
    await writeFile(`${to}.tmp`, data);
    await rename(`${to}.tmp`, to);
  }
  return data.length;
}

async function readManifest(path: string): Promise<Manifest | undefined> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

function mib(bytes: number): string {
  return `${(bytes / (1 << 20)).toFixed(1)} MiB`;
}
