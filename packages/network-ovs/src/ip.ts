import { type ExecFileException, execFile } from "node:child_process";
import { FroctalError } from "@froctal/primitives";

/** Where the guest-port code finds iproute2 and ethtool, and how long one call may take. */
export interface IpOptions {
  /** iproute2's `ip` (default `/usr/sbin/ip`, Debian's). */
  readonly ip?: string;
  /** `ethtool` (default `/usr/sbin/ethtool`, Debian's). */
  readonly ethtool?: string;
  /** The deadline of one call, in ms (default 10,000). */
  readonly timeoutMs?: number;
}

export const DEFAULT_IP = "/usr/sbin/ip";
export const DEFAULT_ETHTOOL = "/usr/sbin/ethtool";
const DEFAULT_TIMEOUT_MS = 10_000;

/** A command line to run as is: an executable and its arguments (for execFile or spawn, no shell). */
export interface Argv {
  readonly file: string;
  readonly args: readonly string[];
}

/**
 * The command line that runs `argv` inside the network namespace `namespace`:
 * `ip netns exec NAME ...argv`. `ip` enters the namespace and then execs argv
 * in place (it forks only in batch mode), so the process spawned keeps its pid
 * and process group, inherits its fds and environment, and sees the
 * namespace's interfaces and `/sys`. Needs root.
 */
export function netnsCommand(namespace: string, argv: readonly string[], ip: string = DEFAULT_IP): Argv {
  const [file] = argv;
  if (file === undefined || file.length === 0) {
    throw new FroctalError("FROCTAL_E_CONFIG", `nothing to run in namespace ${namespace}: the command is empty`);
  }
  return { file: ip, args: ["netns", "exec", namespace, ...argv] };
}

/**
 * Runs `ip` or `ethtool` (or `ip netns exec NAME ethtool`) through execFile and
 * resolves with stdout; a failure becomes one FroctalError (toIpError).
 */
export function runIpTool(options: IpOptions, argv: Argv, input?: string): Promise<string> {
  const timeout = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  return new Promise((resolve, reject) => {
    const child = execFile(
      argv.file,
      argv.args,
      { timeout, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" },
      (error, stdout, stderr) => {
        if (error === null) resolve(stdout);
        else reject(toIpError(argv, timeout, error, stderr));
      },
    );
    // A tool that fails before reading its stdin closes the pipe: its exit status says why, not this EPIPE.
    child.stdin?.on("error", () => {});
    child.stdin?.end(input ?? "");
  });
}

/**
 * One failure of `ip` or `ethtool` as a FroctalError: the tool missing (naming
 * what to install), no permission (naming what is needed), no answer in time,
 * or a refusal with the tool's own words.
 */
export function toIpError(
  argv: Argv,
  timeoutMs: number,
  error: Pick<ExecFileException, "code" | "killed" | "signal">,
  stderr: string,
): FroctalError {
  const said = stderr.trim().replace(/\s*\n\s*/g, "; ");
  const tool = argv.file.slice(argv.file.lastIndexOf("/") + 1);
  const what = [tool, ...argv.args].join(" ");
  if (error.code === "ENOENT") {
    const pkg = tool === "ethtool" ? "ethtool" : "iproute2";
    return new FroctalError("FROCTAL_E_CONFIG", `${argv.file} does not exist: install Debian's ${pkg} package`, {
      cause: error,
    });
  }
  if (error.killed === true || error.signal === "SIGTERM") {
    return new FroctalError("FROCTAL_E_TIMEOUT", `\`${what}\` did not finish within ${timeoutMs} ms`, { cause: error });
  }
  if (/Operation not permitted|Permission denied/.test(said)) {
    return new FroctalError(
      "FROCTAL_E_CONFIG",
      `\`${what}\` was not permitted (${said}): plugging guests into a bridge needs root ` +
        "(CAP_NET_ADMIN and CAP_SYS_ADMIN, for network namespaces and veths); run froctal as root",
      { cause: error },
    );
  }
  return new FroctalError("FROCTAL_E_CONFIG", `\`${what}\` refused: ${said || `exit ${String(error.code)}`}`, {
    cause: error,
  });
}
