// Generates static protobufjs code and its TypeScript types from proto/froctal/v1.
// `--copy` puts the generated files next to the compiled ones in dist/, because
// tsc compiles only our .ts and the generated module is plain JavaScript.
import { execFileSync } from "node:child_process";
import { cpSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const protoRoot = join(pkg, "..", "..", "proto");
const outDir = join(pkg, "src", "generated");

if (process.argv.includes("--copy")) {
  cpSync(outDir, join(pkg, "dist", "generated"), { recursive: true });
  process.exit(0);
}

const protos = readdirSync(join(protoRoot, "froctal", "v1"))
  .filter((f) => f.endsWith(".proto"))
  .map((f) => join(protoRoot, "froctal", "v1", f));
rmSync(outDir, { recursive: true, force: true });
mkdirSync(outDir, { recursive: true });
const bin = (name) => {
  for (const dir of [join(pkg, "node_modules", ".bin"), join(pkg, "..", "..", "node_modules", ".bin")]) {
    try {
      if (readdirSync(dir).includes(name)) return join(dir, name);
    } catch {}
  }
  throw new Error(`FROCTAL_E_SETUP: ${name} not found; run npm ci`);
};
execFileSync(
  bin("pbjs"),
  [
    "-t",
    "static-module",
    "-w",
    "esm",
    "-p",
    protoRoot,
    // We validate decoded frames ourselves and never convert to/from JSON objects.
    "--no-verify",
    "--no-convert",
    "--no-delimited",
    "--no-typeurl",
    "--no-service",
    "--force-number",
    "-d",
    "-o",
    join(outDir, "froctal.js"),
    ...protos,
  ],
  { stdio: "inherit" },
);
