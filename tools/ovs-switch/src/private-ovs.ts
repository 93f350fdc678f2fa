import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Debian's Open vSwitch, unpacked by `tools/setup/ensure.sh --test` (the package would start the system's). */
export const OVS_BIN_DIR = fileURLToPath(new URL("../../setup/.cache/", import.meta.url));

/**
 * A private Open vSwitch for one test file: its own database, sockets, pid and
 * log files in a temp dir; nothing of the system's OVS is read or written (every
 * ovs-vsctl call names the private socket, every ovs-ofctl call the private run dir).
 */
export interface PrivateOvs {
  readonly dir: string;
  /** What @froctal/network-ovs needs to reach it (its OvsOptions). */
  readonly options: { readonly binDir: string; readonly dbSocket: string; readonly runDir: string };
  /** A fresh bridge name (`fr` + hex, a kernel interface name: at most 15 characters); stop() removes it. */
  bridgeName(): string;
  vsctl(...args: string[]): Promise<string>;
  ofctl(...args: string[]): Promise<string>;
  /** SIGKILLs ovs-vswitchd (ovsdb-server stays) and waits until it is gone. */
  killVswitchd(): Promise<void>;
  /** Starts ovs-vswitchd again after killVswitchd: it reads the bridges and ports back from the database, no flow. */
  restartVswitchd(): Promise<void>;
  /** Kills both daemons, deletes every bridge it named (and its kernel tap) and the temp dir. */
  stop(): Promise<void>;
}

async function pidOf(file: string): Promise<number> {
  return Number((await readFile(file, "utf8")).trim());
}

/** Running: not gone and not a zombie (this machine's pid 1 reaps the detached daemons only every 2 s or so). */
function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

async function killAndWait(pid: number, signal: NodeJS.Signals): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, signal);
  for (let i = 0; i < 200 && alive(pid); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  if (alive(pid)) throw new Error(`pid ${pid} still alive 2 s after ${signal}`);
}

/** Whether any ovs-vswitchd runs on this host (this fixture's, another test file's, the system's). */
function anyVswitchd(): boolean {
  return readdirSync("/proc").some((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      return readFileSync(`/proc/${entry}/comm`, "utf8").trim() === "ovs-vswitchd" && alive(Number(entry));
    } catch {
      return false;
    }
  });
}

async function linkExists(name: string): Promise<boolean> {
  return run("ip", ["link", "show", name]).then(
    () => true,
    () => false,
  );
}

/**
 * One private Open vSwitch per host at a time: every netdev ovs-vswitchd opens
 * the same kernel tap (`ovs-netdev`), and a second one's bridges never come up.
 * A directory made atomically, holding the owner's pid; one whose owner is gone
 * (killed without stop()) is taken over.
 */
const LOCK = join(tmpdir(), "froctal-ovs-switch.lock");

async function lock(waitMs: number): Promise<() => Promise<void>> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      await mkdir(LOCK);
      await writeFile(join(LOCK, "pid"), String(process.pid));
      let held = true;
      // Once, and only while it is still this process's: a second stop() must not free another's lock.
      return async () => {
        if (!held) return;
        held = false;
        if ((await readFile(join(LOCK, "pid"), "utf8").catch(() => "")) === String(process.pid)) {
          await rm(LOCK, { recursive: true, force: true });
        }
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    const owner = Number(await readFile(join(LOCK, "pid"), "utf8").catch(() => "0"));
    // No pid yet: its owner is between mkdir and writeFile; give it a moment before calling it gone.
    if (owner > 0 && !alive(owner)) await rm(LOCK, { recursive: true, force: true });
    else if (Date.now() > deadline) {
      throw new Error(`another private Open vSwitch (pid ${owner || "?"}) has held ${LOCK} for ${waitMs} ms`);
    } else await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Waits (up to `waitMs`, default 120 s) until no other private Open vSwitch of
 * this host runs, then starts one; stop() lets the next one start.
 */
export async function startPrivateOvs(waitMs = 120_000): Promise<PrivateOvs> {
  if (!existsSync(join(OVS_BIN_DIR, "ovs-vswitchd"))) {
    throw new Error(`no Open vSwitch in ${OVS_BIN_DIR}: run tools/setup/ensure.sh --test`);
  }
  const unlock = await lock(waitMs);
  const dir = await mkdtemp(join(tmpdir(), "froctal-ovs-"));
  const bin = (name: string) => join(OVS_BIN_DIR, name);
  const db = join(dir, "db.sock");
  // Whatever the daemons would otherwise look up in /var/run/openvswitch, /etc/openvswitch or /var/log.
  const env = {
    ...process.env,
    OVS_RUNDIR: dir,
    OVS_DBDIR: dir,
    OVS_LOGDIR: dir,
    OVS_SYSCONFDIR: dir,
    OVS_PKGDATADIR: OVS_BIN_DIR,
    OVS_BINDIR: OVS_BIN_DIR,
  };
  const daemon = (name: string) => [
    `--pidfile=${join(dir, `${name}.pid`)}`,
    `--log-file=${join(dir, `${name}.log`)}`,
    `--unixctl=${join(dir, `${name}.ctl`)}`,
    "--detach", // returns once the daemon is ready
    "--no-chdir",
    "-vconsole:off",
  ];
  const named: string[] = [];
  const vsctl = async (...args: string[]) =>
    (await run(bin("ovs-vsctl"), [`--db=unix:${db}`, ...args], { env })).stdout;
  const ofctl = async (...args: string[]) =>
    (await run(bin("ovs-ofctl"), ["-O", "OpenFlow15", ...args], { env })).stdout;
  const pids: number[] = [];
  const stop = async () => {
    // Deleting the bridges through ovs-vswitchd removes their taps; skipped when it was killed (it cannot answer).
    const deletes = named.flatMap((bridge, i) => [...(i === 0 ? [] : ["--"]), "--if-exists", "del-br", bridge]);
    if (pids.length === 2 && deletes.length > 0) await vsctl("--timeout=5", ...deletes).catch(() => {});
    for (const pid of pids.reverse()) await killAndWait(pid, "SIGTERM");
    // A netdev bridge's tap is persistent: one ovs-vswitchd did not delete (it was killed) stays behind.
    for (const name of named) if (await linkExists(name)) await run("ip", ["link", "delete", name]);
    // So does the netdev datapath's own tap, shared by every ovs-vswitchd of the host: deleted only when none runs.
    if (!anyVswitchd() && (await linkExists("ovs-netdev"))) await run("ip", ["link", "delete", "ovs-netdev"]);
    await rm(dir, { recursive: true, force: true });
    await unlock();
  };
  const startVswitchd = async () => {
    await run(bin("ovs-vswitchd"), [`unix:${db}`, ...daemon("ovs-vswitchd")], { env });
    pids.push(await pidOf(join(dir, "ovs-vswitchd.pid")));
  };
  try {
    await run(bin("ovsdb-tool"), ["create", join(dir, "conf.db"), bin("vswitch.ovsschema")], { env });
    await run(bin("ovsdb-server"), [join(dir, "conf.db"), `--remote=punix:${db}`, ...daemon("ovsdb-server")], { env });
    pids.push(await pidOf(join(dir, "ovsdb-server.pid")));
    await vsctl("--no-wait", "init");
    await startVswitchd();
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    dir,
    options: { binDir: OVS_BIN_DIR, dbSocket: db, runDir: dir },
    bridgeName() {
      const name = `fr${randomBytes(6).toString("hex")}`;
      named.push(name);
      return name;
    },
    vsctl,
    ofctl,
    async killVswitchd() {
      const pid = pids.pop();
      if (pid !== undefined) await killAndWait(pid, "SIGKILL");
    },
    async restartVswitchd() {
      if (pids.length !== 1) throw new Error("restartVswitchd: ovs-vswitchd was not killed");
      await startVswitchd();
    },
    stop,
  };
}
