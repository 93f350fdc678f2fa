// Bundles examples/minimal.ts the way a guest image would (node, minified,
// everything inlined) and prints the bundle's size in bytes on stdout.
// Usage: node scripts/size.mjs [--out FILE] [--json]
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const args = process.argv.slice(2);
const outIndex = args.indexOf("--out");
const outfile = outIndex >= 0 ? args[outIndex + 1] : undefined;

const result = await build({
  entryPoints: [`${root}examples/minimal.ts`],
  // Bundle the agent from its sources, so the measure needs no prior build of this package.
  alias: { "@froctal/agent": `${root}src/index.ts` },
  bundle: true,
  minify: true,
  platform: "node",
  format: "esm",
  target: "node20",
  // ws's optional native speed-ups are not installed in a guest; ws falls back to JavaScript.
  external: ["bufferutil", "utf-8-validate"],
  write: false,
  outfile: outfile ?? "minimal.js",
  logLevel: "error",
});
const bytes = result.outputFiles[0].contents;
if (outfile) {
  const { writeFile } = await import("node:fs/promises");
  await writeFile(outfile, bytes);
}
console.log(args.includes("--json") ? JSON.stringify({ bytes: bytes.length }) : String(bytes.length));
