import { describe, expect, it } from "vitest";
import { exists, namedFiles, read, repoFiles } from "./repo.js";

const files = repoFiles();

describe("READMEs", () => {
  const readmes = files.filter((f) => f === "README.md" || f.endsWith("/README.md"));

  it("are found (the check below would pass on none)", () => {
    expect(readmes).toContain("README.md");
    expect(readmes).toContain("packages/manager/README.md");
  });

  it.each(readmes)("%s names only files that exist", (readme) => {
    const missing = namedFiles(read(readme)).filter((name) => !exists(name, readme, files));
    expect(missing).toEqual([]);
  });
});

describe("source files, tests included", () => {
  const LIMIT = 400;
  const sources = files.filter((f) => f.startsWith("packages/") && f.endsWith(".ts") && !f.includes("/generated/"));

  it("are found", () => {
    expect(sources.length).toBeGreaterThan(50);
  });

  it(`stay under ${LIMIT} lines (split one past it where its concerns are)`, () => {
    const long = sources
      .map((f) => ({ f, lines: lineCount(read(f)) }))
      .filter(({ lines }) => lines > LIMIT)
      .map(({ f, lines }) => `${f}: ${lines} lines`);
    expect(long).toEqual([]);
  });
});

describe("the README check itself", () => {
  const tree = ["README.md", "packages/a/README.md", "packages/a/src/x.ts", "packages/b/src/y.ts"];

  it("finds a bare name under the README's folder only", () => {
    expect(exists("x.ts", "packages/a/README.md", tree)).toBe(true);
    expect(exists("y.ts", "packages/a/README.md", tree)).toBe(false);
  });

  it("finds a path relative to the README or the root", () => {
    expect(exists("src/x.ts", "packages/a/README.md", tree)).toBe(true);
    expect(exists("packages/b/src/y.ts", "README.md", tree)).toBe(true);
    expect(exists("src/z.ts", "packages/a/README.md", tree)).toBe(false);
  });

  it("reads names in backticks, not placeholders", () => {
    expect(namedFiles("see `src/x.ts` and `foo.ts`, not x.ts")).toEqual(["src/x.ts"]);
  });
});

/** Lines as an editor shows them: a final newline ends the last line, it does not start another. */
function lineCount(text: string): number {
  return text.split("\n").length - (text.endsWith("\n") ? 1 : 0);
}
