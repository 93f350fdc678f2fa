/**
 * The JavaScript runtime of the guest: the host's own node binary and the
 * shared libraries it links, found with ldd and placed at the paths ldd
 * reports, so the dynamic loader finds them in the guest as it does here.
 * The binary's symbol tables are stripped (when binutils' strip is there)
 * into a cached copy: about 12 MB less in every guest's memory.
 */
import { createHash } from "node:crypto";
import { mkdir, readFile, realpath, rename, stat } from "node:fs/promises";
import { join } from "node:path";
import { FroctalError } from "@froctal/protocol";
import { run } from "./exec.js";

export interface SharedLibrary {
  /** Where the loader looks for it: the path in the guest. */
  readonly path: string;
  readonly data: Uint8Array;
}

export interface NodeRuntime {
  /** The binary the image runs (the host's, possibly stripped). */
  readonly binary: Uint8Array;
  readonly version: string;
  readonly stripped: boolean;
  /** The libraries and the dynamic loader, each at the path the binary asks for. */
  readonly libraries: readonly SharedLibrary[];
}

/** Paths of what ldd says `binary` loads: libraries, then the loader (no vdso). */
export function parseLdd(output: string): string[] {
  if (/not a dynamic executable|statically linked/.test(output)) return [];
  const paths: string[] = [];
  for (const raw of output.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const missing = /^(\S+) => not found$/.exec(line);
    if (missing)
      throw new FroctalError("FROCTAL_E_CONFIG", `the node binary needs ${missing[1]}, which is not installed`);
    const linked = /=> (\/\S+) \(0x[0-9a-f]+\)$/.exec(line) ?? /^(\/\S+) \(0x[0-9a-f]+\)$/.exec(line);
    if (linked) paths.push(linked[1]!);
  }
  return paths;
}

/** The node at `nodePath` (the one running this build by default), with its libraries. */
export async function nodeRuntime(cacheDir: string, nodePath = process.execPath): Promise<NodeRuntime> {
  const version = (await run(nodePath, ["--version"])).trim();
  const libraries = await Promise.all(
    parseLdd(await lddOf(nodePath)).map(async (path) => ({ path, data: await readFile(await realpath(path)) })),
  );
  const stripped = await strippedCopy(cacheDir, nodePath);
  return {
    binary: await readFile(stripped ?? nodePath),
    version,
    stripped: stripped !== undefined,
    libraries,
  };
}

function lddOf(path: string): Promise<string> {
  // ldd exits 1 for a static binary, saying so: that is an answer, not a failure.
  return run("ldd", [path]).catch((err: FroctalError) => {
    if (/not a dynamic executable/.test(err.message)) return "not a dynamic executable";
    throw err;
  });
}

/** A stripped copy of `path` in the cache, made once per binary; undefined without strip. */
async function strippedCopy(cacheDir: string, path: string): Promise<string | undefined> {
  const real = await realpath(path);
  const { size, mtimeMs } = await stat(real);
  const key = createHash("sha256").update(`${real}\0${size}\0${mtimeMs}`).digest("hex").slice(0, 16);
  const dir = join(cacheDir, "node");
  const copy = join(dir, `node-${key}`);
  if (
    await stat(copy).then(
      () => true,
      () => false,
    )
  )
    return copy;
  await mkdir(dir, { recursive: true });
  const scratch = `${copy}.${process.pid}.tmp`;
  try {
    await run("strip", ["-o", scratch, real]);
  } catch (err) {
    if (err instanceof FroctalError && err.code === "FROCTAL_E_CONFIG") return undefined;
    throw err;
  }
  await rename(scratch, copy);
  return copy;
}
