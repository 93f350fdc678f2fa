/**
 * The repository as a reader sees it: the files git tracks plus new ones not
 * ignored, so a README is checked against what a fresh clone will hold.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, posix } from "node:path";
import { fileURLToPath } from "node:url";

export const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export function repoFiles(): string[] {
  const out = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], { cwd: root });
  return out
    .toString("utf8")
    .split("\0")
    .filter((f) => f.length > 0 && existsSync(join(root, f)));
}

export function read(file: string): string {
  return readFileSync(join(root, file), "utf8");
}

/** File names a README writes in backticks (`foo.ts`, `src/bar.test.ts`), which a reader will look for. */
export function namedFiles(readme: string): string[] {
  const names = readme.match(/`[A-Za-z0-9_./-]+\.(?:ts|mjs|cjs|js|sh|proto)`/g) ?? [];
  // Absolute paths name places on a machine (a guest's /app.mjs), not files of the repository.
  return [...new Set(names.map((n) => n.slice(1, -1)))].filter(
    (n) => !n.startsWith("/") && !/^(?:foo|bar)\.|\/(?:foo|bar)\./.test(n),
  );
}

/** Whether `name`, as written in the README at `readme`, is a file in the repository. */
export function exists(name: string, readme: string, files: readonly string[]): boolean {
  const dir = posix.dirname(readme);
  const under = dir === "." ? "" : `${dir}/`;
  if (name.includes("/")) {
    const clean = name.replace(/^\.\//, "");
    return files.some((f) => f === `${under}${clean}` || f === clean || f.endsWith(`/${clean}`));
  }
  return files.some((f) => f.startsWith(under) && posix.basename(f) === name);
}
