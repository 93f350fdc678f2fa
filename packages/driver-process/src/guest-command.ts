import { fileURLToPath } from "node:url";
import type { LaunchSpec } from "@froctal/manager";

/** The guest's end of its lifeline pipe; see preload/lifeline.cjs. */
export const LIFELINE_FD = 3;
/** Tells the lifeline preload which fd to watch and the guest's grace period: "3:5000". */
export const LIFELINE_ENV = "FROCTAL_LIFELINE";

// From src/ (tests) and from dist/ alike, the preload is one folder up.
const LIFELINE_PRELOAD = fileURLToPath(new URL("../preload/lifeline.cjs", import.meta.url));

export interface GuestCommand {
  readonly instanceId: string;
  /** The resolved image, for messages. */
  readonly image: string;
  readonly file: string;
  readonly args: readonly string[];
  readonly env: Readonly<Record<string, string>>;
}

export interface CommandSettings {
  readonly execPath: string;
  readonly inheritEnv: readonly string[];
  readonly orphanGraceMs: number;
}

/**
 * What to run for one guest: `node --require lifeline <image> ...args`, with a
 * minimal environment. The manager's environment may hold secrets and flags
 * meant for the manager alone (NODE_OPTIONS=--inspect), so a guest gets only the
 * few variables named in `inheritEnv`, then its spec's env over them.
 */
export function guestCommand(
  spec: LaunchSpec,
  image: string,
  settings: CommandSettings,
  parentEnv: Readonly<Record<string, string | undefined>> = process.env,
): GuestCommand {
  // No prototype: a spec env key such as "__proto__" is a plain variable here.
  const env: Record<string, string> = Object.create(null);
  for (const name of settings.inheritEnv) {
    const value = parentEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(spec.env)) env[name] = value;
  env[LIFELINE_ENV] = `${LIFELINE_FD}:${settings.orphanGraceMs}`;
  return {
    instanceId: spec.instanceId,
    image,
    file: settings.execPath,
    args: ["--require", LIFELINE_PRELOAD, image, ...(spec.args ?? [])],
    env,
  };
}
