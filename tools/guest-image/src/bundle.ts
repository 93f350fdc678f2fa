/**
 * The guest app, bundled with everything it imports (the agent, protobufjs,
 * ws) into one ES module for node: the image carries no node_modules.
 */
import { FroctalError } from "@froctal/protocol";
import { build, type Message } from "esbuild";

/**
 * Bundled CommonJS code (ws, protobufjs) calls require() for node's built-in
 * modules; an ES module has no require, so the bundle makes one.
 */
const REQUIRE_SHIM =
  'import { createRequire as __froctalRequire } from "node:module";\nconst require = __froctalRequire(import.meta.url);';

/**
 * ws's optional native speed-ups: not in the image, and ws falls back to
 * JavaScript when require() cannot find them.
 */
const OPTIONAL_NATIVE = ["bufferutil", "utf-8-validate"];

/** Bundles `entry` (.ts or .js) for Node `nodeMajor`; returns the module's source. */
export async function bundleApp(entry: string, nodeMajor: number): Promise<Uint8Array> {
  try {
    const result = await build({
      entryPoints: [entry],
      bundle: true,
      platform: "node",
      format: "esm",
      target: `node${nodeMajor}`,
      external: OPTIONAL_NATIVE,
      banner: { js: REQUIRE_SHIM },
      // Stack traces on the guest's console stay readable; a few hundred KB either way weigh nothing next to node.
      minify: false,
      legalComments: "none",
      write: false,
      outfile: "app.mjs",
      logLevel: "silent",
    });
    const out = result.outputFiles[0];
    if (!out) throw new Error("esbuild produced no output");
    return out.contents;
  } catch (err) {
    const errors = (err as { errors?: Message[] }).errors;
    const said = errors?.length ? errors.map(describe).join("; ") : String(err);
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `cannot bundle the guest app ${entry}: ${said} (are the workspace packages built? npm run build)`,
      { cause: err },
    );
  }
}

function describe(message: Message): string {
  const where = message.location ? `${message.location.file}:${message.location.line}: ` : "";
  return `${where}${message.text}`;
}
