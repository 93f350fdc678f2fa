/**
 * Debian packages as build inputs: fetched once with `apt-get download` into
 * the cache, unpacked once with `dpkg-deb -x`. Both steps land in a scratch
 * folder first and are renamed into place, so an interrupted build leaves
 * nothing that a later one would take for finished. Nothing is installed on
 * the host.
 */
import { mkdir, mkdtemp, readdir, rename, rm } from "node:fs/promises";
import { basename, join } from "node:path";
import { FroctalError } from "@froctal/protocol";
import { run } from "./exec.js";

export interface Deb {
  readonly package: string;
  readonly version: string;
  /** The .deb file in the cache. */
  readonly file: string;
}

/** The cached .deb of `pkg`, downloaded (the candidate apt knows) when there is none yet. */
export async function fetchDeb(cacheDir: string, pkg: string): Promise<Deb> {
  const debs = join(cacheDir, "debs");
  const file = (await cachedDeb(debs, pkg)) ?? (await download(debs, pkg));
  const version = (await run("dpkg-deb", ["-f", file, "Version"])).trim();
  return { package: pkg, version, file };
}

/** The first package a meta package depends on: linux-image-cloud-amd64 -> linux-image-6.1.0-56-cloud-amd64. */
export async function firstDependency(deb: Deb): Promise<string> {
  const depends = (await run("dpkg-deb", ["-f", deb.file, "Depends"])).trim();
  const first = depends.split(/[,|]/)[0]?.trim().split(/\s/)[0];
  if (!first) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${deb.package} ${deb.version} depends on nothing: it is not a meta package`,
    );
  }
  return first;
}

/** The folder `deb` is unpacked in, unpacking it the first time. */
export async function unpack(cacheDir: string, deb: Deb): Promise<string> {
  const roots = join(cacheDir, "root");
  const dir = join(roots, basename(deb.file, ".deb"));
  if (await exists(dir)) return dir;
  await mkdir(roots, { recursive: true });
  const scratch = await mkdtemp(join(roots, ".unpack-"));
  try {
    await run("dpkg-deb", ["-x", deb.file, scratch]);
    await rename(scratch, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another build unpacked the same package meanwhile: theirs is as good.
      if (err.code !== "ENOTEMPTY" && err.code !== "EEXIST") throw err;
    });
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  return dir;
}

async function download(debs: string, pkg: string): Promise<string> {
  await mkdir(debs, { recursive: true });
  const scratch = await mkdtemp(join(debs, ".download-"));
  try {
    await run("apt-get", ["download", "-q", pkg], { cwd: scratch }).catch((err: FroctalError) => {
      if (!/Unable to locate package|has no installation candidate/.test(err.message)) throw err;
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `apt does not know the package ${pkg}: run apt-get update (the image is built from Debian's packages)`,
        { cause: err },
      );
    });
    const got = (await readdir(scratch)).find((name) => name.endsWith(".deb"));
    if (!got) throw new FroctalError("FROCTAL_E_TRANSPORT", `apt-get download ${pkg} left no .deb file`);
    await rename(join(scratch, got), join(debs, got));
    return join(debs, got);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

async function cachedDeb(debs: string, pkg: string): Promise<string | undefined> {
  const names = await readdir(debs).catch(() => [] as string[]);
  const mine = names.filter((name) => name.startsWith(`${pkg}_`) && name.endsWith(".deb")).sort();
  const last = mine.at(-1);
  return last === undefined ? undefined : join(debs, last);
}

async function exists(path: string): Promise<boolean> {
  try {
    await readdir(path);
    return true;
  } catch {
    return false;
  }
}
