import { type ExecFileException, execFile } from "node:child_process";
import { join } from "node:path";
import { FroctalError } from "@froctal/primitives";

/** Where the adapter finds Open vSwitch: never the system's defaults, always what it is given. */
export interface OvsOptions {
  /** The folder of `ovs-vsctl` and `ovs-ofctl` (`/usr/bin`, or tools/setup/.cache in the tests). */
  readonly binDir: string;
  /** ovsdb-server's unix socket; every `ovs-vsctl` call names it (`--db=unix:...`). */
  readonly dbSocket: string;
  /** ovs-vswitchd's run directory, where it listens on `<bridge>.mgmt` for OpenFlow. */
  readonly runDir: string;
  /** The deadline of one call, in ms (default 10,000). */
  readonly timeoutMs?: number;
}

export type OvsTool = "ovs-vsctl" | "ovs-ofctl";

const DEFAULT_TIMEOUT_MS = 10_000;
const START_HINT = "start it (Debian: `/usr/share/openvswitch/scripts/ovs-ctl start`)";

/** The OpenFlow connection to one bridge, in ovs-vswitchd's run directory (never `OVS_RUNDIR`). */
export function bridgeTarget(options: OvsOptions, bridge: string): string {
  return `unix:${join(options.runDir, `${bridge}.mgmt`)}`;
}

/**
 * Runs one Open vSwitch tool through execFile (no shell: flows are data, never
 * parsed by sh) and resolves with its stdout; every failure becomes one FroctalError:
 * the tool missing (CONFIG, naming what to install), a daemon that does not answer
 * (TRANSPORT, retryable, naming what to start), a refusal (CONFIG, with its stderr).
 */
export function runTool(options: OvsOptions, tool: OvsTool, args: readonly string[], input?: string): Promise<string> {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const fullArgs =
    tool === "ovs-vsctl"
      ? // ovs-vsctl waits for ovs-vswitchd to apply a change; --timeout bounds that wait (it dies of SIGALRM).
        [`--db=unix:${options.dbSocket}`, `--timeout=${Math.max(1, Math.ceil(timeout / 1000))}`, ...args]
      : // Without --no-names every flow mod first fetches all tables' features (to read table names): 7 of its 11 ms.
        ["--no-names", "-O", "OpenFlow15", ...args];
  return new Promise((resolve, reject) => {
    const child = execFile(
      join(options.binDir, tool),
      fullArgs,
      { timeout: timeout + 1000, maxBuffer: 64 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else reject(toOvsError(options, tool, args, error, stderr));
      },
    );
    // A tool that fails before reading its stdin closes the pipe: its exit status says why, not this EPIPE.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input ?? "");
  });
}

function toOvsError(
  options: OvsOptions,
  tool: OvsTool,
  args: readonly string[],
  error: ExecFileException,
  stderr: string,
): FroctalError {
  const what = `${tool} ${args.find((arg) => !arg.startsWith("-")) ?? ""}`.trim();
  const said = stderr.trim();
  if (error.code === "ENOENT") {
    return new FroctalError(
      "FROCTAL_E_CONFIG",
      `${tool} is not in ${options.binDir}: install Open vSwitch (Debian's openvswitch-switch; ` +
        "tools/setup/ensure.sh --test unpacks it into tools/setup/.cache)",
      { cause: error },
    );
  }
  if (error.signal === "SIGALRM" || error.killed === true) {
    return new FroctalError(
      "FROCTAL_E_TRANSPORT",
      `${what} got no answer within ${options.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms: is ovs-vswitchd running? ${START_HINT}`,
      { cause: error },
    );
  }
  if (/database connection failed/.test(said)) {
    return new FroctalError(
      "FROCTAL_E_TRANSPORT",
      `ovsdb-server does not answer on ${options.dbSocket} (${said}): ${START_HINT}`,
      { cause: error },
    );
  }
  // Dead, not started, or killed while connecting: "connecting to unix:X.mgmt (Connection refused)",
  // "unix:X.mgmt: failed to connect to socket (Connection reset by peer)".
  if (
    /(connecting to|talking to) unix:\S*\.mgmt|unix:\S*\.mgmt: failed to connect/.test(said) &&
    !said.includes("Error OFP")
  ) {
    return new FroctalError(
      "FROCTAL_E_TRANSPORT",
      `ovs-vswitchd does not answer for this bridge (${said}): ${START_HINT}, and create the bridge`,
      { cause: error },
    );
  }
  return new FroctalError("FROCTAL_E_CONFIG", `${what} refused: ${said || `exit ${String(error.code)}`}`, {
    cause: error,
  });
}
