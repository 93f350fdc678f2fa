/**
 * Loads a fleet module: a file, or a folder whose package.json names one
 * (`main`), as `froctal up apps/examples/autoscale` expects. Whatever the
 * module default-exports is checked by defineFleet, so a module that never
 * called it gets the same sentences as one that did. Bad input gets a
 * FROCTAL_E_CONFIG sentence naming the path, never a stack trace.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { type DriverFactory, defineFleet, type FleetSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";

export interface FleetModule {
  readonly fleet: FleetSpec;
  /** The module's own driver, when it exports one (default: the process driver). */
  readonly driver?: DriverFactory;
}

export async function loadFleet(path: string): Promise<FleetModule> {
  const file = resolveModule(resolve(path));
  let mod: { default?: unknown; driver?: unknown };
  try {
    mod = (await import(pathToFileURL(file).href)) as { default?: unknown; driver?: unknown };
  } catch (cause) {
    // defineFleet refusing the spec inside the module: the same sentence as when froctal checks it below.
    if (cause instanceof FroctalError && cause.code === "FROCTAL_E_CONFIG") throw inModule(file, cause);
    const why = cause instanceof Error ? cause.message : String(cause);
    throw new FroctalError("FROCTAL_E_CONFIG", `the fleet module ${file} could not be loaded: ${why}`, { cause });
  }
  const fleet = mod.default;
  if (typeof fleet !== "object" || fleet === null) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${file} must default-export a fleet: export default defineFleet({ name, services: { ... } })`,
    );
  }
  try {
    defineFleet(fleet as FleetSpec);
  } catch (cause) {
    throw cause instanceof FroctalError ? inModule(file, cause) : cause;
  }
  if (mod.driver !== undefined && typeof mod.driver !== "function") {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${file} exports \`driver\`, but it is not a function returning a Driver`,
    );
  }
  return { fleet: fleet as FleetSpec, ...(mod.driver ? { driver: mod.driver as DriverFactory } : {}) };
}

function inModule(file: string, error: FroctalError): FroctalError {
  return new FroctalError(error.code, `${file}: ${error.sentence}`, { cause: error });
}

function resolveModule(path: string): string {
  if (!existsSync(path)) throw new FroctalError("FROCTAL_E_CONFIG", `no fleet module at ${path}`);
  if (!statSync(path).isDirectory()) return path;
  const manifest = join(path, "package.json");
  if (existsSync(manifest)) {
    const main = (JSON.parse(readFileSync(manifest, "utf8")) as { main?: string }).main;
    if (main !== undefined) {
      const file = join(path, main);
      if (!existsSync(file)) {
        throw new FroctalError(
          "FROCTAL_E_CONFIG",
          `${manifest} names ${main} as the fleet module, which is missing: run npm run build`,
        );
      }
      return file;
    }
  }
  for (const name of ["fleet.js", "fleet.mjs", "index.js"]) if (existsSync(join(path, name))) return join(path, name);
  throw new FroctalError("FROCTAL_E_CONFIG", `${path} has no fleet module (package.json "main", fleet.js or index.js)`);
}
