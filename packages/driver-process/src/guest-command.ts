import { fileURLToPath } from "node:url";
import type { LaunchSpec } from "@froctal/manager";

/** The guest's end of its lifeline pipe; see preload/lifeline.cjs. */
export const LIFELINE_FD = 3;
/** Tells the lifeline preload which fd to watch and the guest's grace period: "3:5000". */
export const LIFELINE_ENV = "FROCTAL_LIFELINE";

// From src/ (tests) and from dist/ alike, the preload is one folder up.
const LIFELINE_PRELOAD = fileURLToPath(new URL("../preload/lifeline.cjs", import.meta.url));

/** The POSIX shell that runs LIFELINE_EXEC (and the watcher). */
const SHELL = "/bin/sh";

/**
 * The lifeline of a command guest, which cannot preload it: `sh -c` starts a
 * watcher in the background, then execs the command with the arguments it was
 * given ("$0" "$@", never re-parsed), so the guest keeps this pid and process
 * group, and gets neither fd 3 nor the variable. The watcher is a shell of its
 * own with an empty environment (nothing that looks for guests by their
 * FROCTAL_* variables takes it for one), named `froctal-lifeline` in its
 * command line. It ignores SIGTERM (the group's stop signal) and waits for EOF
 * on fd 3, which comes when the manager is gone, or once the driver has seen
 * the guest exit. Only if the guest still runs does it do what the preload
 * does: SIGTERM to the group, then SIGKILL to what is left of it (itself
 * included) once the guest is gone or the grace period is over, whichever
 * comes first (checked each second; the grace is rounded up to whole seconds).
 * The guest's pid cannot have been reused meanwhile: it names the process
 * group the watcher is in.
 */
const LIFELINE_EXEC = [
  `ms=\${${LIFELINE_ENV}#*:}`,
  `unset ${LIFELINE_ENV}`,
  `/usr/bin/env -i ${SHELL} -c 'trap "" TERM; read -r _ <&${LIFELINE_FD}; kill -0 "$1" || exit 0; kill -TERM -"$1"; i=0; while [ $i -lt "$2" ] && kill -0 "$1"; do sleep 1; i=$((i + 1)); done; kill -KILL -"$1"' froctal-lifeline $$ $(( (ms + 999) / 1000 )) </dev/null >/dev/null 2>&1 &`,
  `exec "$0" "$@" ${LIFELINE_FD}<&-`,
].join("\n");

export interface GuestCommand {
  readonly instanceId: string;
  /** What the guest runs, resolved, for messages: its image, or its command's executable. */
  readonly runs: string;
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
 * What to run for one guest, given what `resolved` names (the spec's image, or
 * its command's executable): `node --require lifeline <image> ...args`, or the
 * command behind its lifeline watcher. Either way with the environment of
 * guestEnv.
 */
export function guestCommand(
  spec: LaunchSpec,
  resolved: string,
  settings: CommandSettings,
  parentEnv: Readonly<Record<string, string | undefined>> = process.env,
): GuestCommand {
  const env = guestEnv(spec, settings, parentEnv);
  env[LIFELINE_ENV] = `${LIFELINE_FD}:${settings.orphanGraceMs}`;
  const [file, args] =
    spec.command === undefined
      ? [settings.execPath, ["--require", LIFELINE_PRELOAD, resolved, ...(spec.args ?? [])]]
      : [SHELL, ["-c", LIFELINE_EXEC, resolved, ...spec.command.slice(1)]];
  return { instanceId: spec.instanceId, runs: resolved, file, args, env };
}

/**
 * What to run for one kept guest (see kept.ts), which must outlive the driver's
 * process and so has no lifeline: `node <image> ...args`, or the command's
 * executable itself with its arguments as given (no shell; an executable file
 * without a shebang is run by sh, as execvp does). The environment is
 * guestEnv's, without FROCTAL_LIFELINE.
 */
export function keptGuestCommand(
  spec: LaunchSpec,
  resolved: string,
  settings: Pick<CommandSettings, "execPath" | "inheritEnv">,
  parentEnv: Readonly<Record<string, string | undefined>> = process.env,
): GuestCommand {
  const env = guestEnv(spec, settings, parentEnv);
  const [file, args] =
    spec.command === undefined
      ? [settings.execPath, [resolved, ...(spec.args ?? [])]]
      : [resolved, spec.command.slice(1)];
  return { instanceId: spec.instanceId, runs: resolved, file, args, env };
}

/**
 * A guest's environment. The manager's may hold secrets and flags meant for
 * the manager alone (NODE_OPTIONS=--inspect), so a guest gets only the few
 * variables named in `inheritEnv`, then its spec's env over them.
 */
export function guestEnv(
  spec: LaunchSpec,
  settings: Pick<CommandSettings, "inheritEnv">,
  parentEnv: Readonly<Record<string, string | undefined>> = process.env,
): Record<string, string> {
  // No prototype: a spec env key such as "__proto__" is a plain variable here.
  const env: Record<string, string> = Object.create(null);
  for (const name of settings.inheritEnv) {
    const value = parentEnv[name];
    if (value !== undefined) env[name] = value;
  }
  for (const [name, value] of Object.entries(spec.env)) env[name] = value;
  return env;
}
