/**
 * The pure folders import only what README.md allows. The compiler already
 * refuses node:* and Node globals in src/core and src/session (they compile
 * without Node types); this catches a package such as ws, whose own types
 * would bring Node's in with them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("..", import.meta.url));

function sources(dir: string): string[] {
  return readdirSync(join(root, dir), { withFileTypes: true }).flatMap((e) => {
    if (e.isDirectory()) return sources(join(dir, e.name));
    return e.name.endsWith(".ts") && !e.name.endsWith(".test.ts") ? [join(dir, e.name)] : [];
  });
}

function imports(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map((m) => m[1]!);
}

describe("import boundaries", () => {
  it("the check sees the imports it is about", () => {
    expect(imports("src/session/conversation.ts")).toContain("../core/config.js");
  });

  it.each([
    ["src/core", /^(\.\/|@froctal\/protocol$|@froctal\/primitives$)/],
    ["src/session", /^(\.\/|\.\.\/core\/|@froctal\/protocol$|@froctal\/primitives$)/],
  ])("%s imports only @froctal/protocol, @froctal/primitives and the folders below it", (dir, allowed) => {
    const outside = sources(dir).flatMap((f) =>
      imports(f)
        .filter((i) => !allowed.test(i))
        .map((i) => `${f}: ${i}`),
    );
    expect(outside).toEqual([]);
  });
});
