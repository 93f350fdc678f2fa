/**
 * A fleet spread over `froctal host` daemons, as a user runs it: a manager
 * with --no-local-host on a fixed port (a restarted one must listen where the
 * hosts and guests redial), hosts with state directories of their own, and
 * the guests found by their environment in /proc. Everything started here is
 * recorded, so that `cleanUp` can kill it and prove nothing of the fleet is left.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { HostSummary } from "@froctal/driver-hosts";
import type { ManagerStatus } from "@froctal/manager";
import { afterAll, afterEach, beforeEach, expect } from "vitest";
import { root } from "./fleet.js";

const bin = join(root, "apps/froctal/dist/main.js");
/** The example web guest, built: an HTTP server that reports gauges and its endpoint, and drains. */
export const webGuest = join(root, "apps/examples/web/dist/main.js");

/** GET /status of a manager with hosts: the core's status, the hosts, and the host of each instance. */
export type HostsStatus = ManagerStatus & {
  readonly hosts: readonly HostSummary[];
  readonly placement: Readonly<Record<string, string | null>>;
};

/** A child process with its output lines kept (stdout as is, stderr prefixed) and its exit awaited. */
export interface Proc {
  readonly child: ChildProcess;
  readonly logs: string[];
  readonly exited: Promise<number | null>;
}

/** Everything a test started: processes to kill and fleets whose guests must all be gone. */
export interface Started {
  readonly procs: Proc[];
  readonly fleetIds: Set<string>;
  readonly dirs: string[];
}

export function newStarted(): Started {
  return { procs: [], fleetIds: new Set(), dirs: [] };
}

export function tempDir(started: Started, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `froctal-e2e-${prefix}-`));
  started.dirs.push(dir);
  return dir;
}

function run(started: Started, args: readonly string[]): Proc {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => logs.push(l));
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(`stderr: ${l}`));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const proc = { child, logs, exited };
  started.procs.push(proc);
  return proc;
}

/** Resolves with the first JSON log line for which `pick` returns something; rejects if the process exits first. */
export function logLine<T>(proc: Proc, pick: (entry: Record<string, unknown>) => T | undefined, timeoutMs = 30_000) {
  return new Promise<T>((resolve, reject) => {
    const check = () => {
      for (const line of proc.logs) {
        if (!line.startsWith("{")) continue;
        const found = pick(JSON.parse(line) as Record<string, unknown>);
        if (found !== undefined) return found;
      }
      return undefined;
    };
    const poll = setInterval(() => {
      const found = check();
      if (found !== undefined) {
        clearInterval(poll);
        clearTimeout(timer);
        resolve(found);
      }
    }, 20);
    const timer = setTimeout(() => {
      clearInterval(poll);
      reject(new Error(`no such log line in ${timeoutMs} ms:\n${proc.logs.join("\n")}`));
    }, timeoutMs);
    void proc.exited.then((code) => {
      if (check() !== undefined) return;
      clearInterval(poll);
      clearTimeout(timer);
      reject(new Error(`the process exited with ${code}:\n${proc.logs.join("\n")}`));
    });
  });
}

export interface Manager extends Proc {
  readonly url: string;
  readonly fleetId: string;
  status(): Promise<HostsStatus>;
}

export interface ManagerOptions {
  readonly fleet: string;
  readonly port: number;
  readonly stateDir: string;
  readonly graceMs: number;
  /** `--state etcd://...`: the state in etcd instead of SQLite in stateDir. */
  readonly stateUrl?: string;
  /** More flags for `froctal up`. */
  readonly args?: readonly string[];
}

/** `froctal up --no-local-host`; resolves once it logs its URL (after it restored its state: it is ready). */
export async function startManager(started: Started, o: ManagerOptions): Promise<Manager> {
  const proc = run(started, [
    "up",
    o.fleet,
    "--no-local-host",
    "--port",
    String(o.port),
    "--state-dir",
    o.stateDir,
    "--host-grace-ms",
    String(o.graceMs),
    // A restarted manager on etcd leads once the killed one's lease ran out: a short one keeps the test short.
    ...(o.stateUrl === undefined ? [] : ["--state", o.stateUrl, "--lease-ttl", "2"]),
    ...(o.args ?? []),
  ]);
  const { url, fleetId } = await logLine(proc, (e) =>
    typeof e.url === "string" && typeof e.fleetId === "string" ? { url: e.url, fleetId: e.fleetId } : undefined,
  );
  started.fleetIds.add(fleetId);
  return {
    ...proc,
    url,
    fleetId,
    status: async () => (await (await fetch(`${url}/status`)).json()) as HostsStatus,
  };
}

/**
 * What each test of a file starts, in a Started of its own (call at the top of
 * the file; it registers the hooks): after each test, whatever it left (it
 * failed midway, or its hosts still run) is killed, and nothing of its fleets
 * may be left; after the file, nothing of any test's fleets.
 */
export function startedPerTest(): () => Started {
  let started = newStarted();
  const everyFleet = new Set<string>();
  beforeEach(() => {
    started = newStarted();
  });
  afterEach(async () => {
    for (const id of started.fleetIds) everyFleet.add(id);
    expect(await cleanUp(started)).toEqual([]);
  });
  afterAll(() => {
    expect([...everyFleet].flatMap((id) => [...guestProcesses(id).keys()])).toEqual([]);
  });
  return () => started;
}

/** `froctal credential` for a host of the fleet whose manager keeps its state in `stateDir`, in a file. */
export async function credentialFile(
  fleet: string,
  stateDir: string,
  hostId: string,
  dir: string,
  stateUrl?: string,
): Promise<string> {
  const state = stateUrl === undefined ? [] : ["--state", stateUrl];
  const out = await froctal(["credential", fleet, hostId, "--state-dir", stateDir, ...state]);
  const file = join(dir, `${hostId}.credential`);
  writeFileSync(file, out, { mode: 0o600 });
  return file;
}

/** Runs the froctal CLI once; resolves with its stdout, rejects with its stderr if it fails. */
export function froctal(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [bin, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`froctal ${args.join(" ")} failed: ${stderr}`));
      else resolve(stdout);
    });
  });
}

export interface HostDaemon extends Proc {
  readonly id: string;
}

export interface HostOptions {
  readonly manager: string;
  readonly id: string;
  readonly credentialFile: string;
  readonly stateDir: string;
  /** More flags for `froctal host`. */
  readonly args?: readonly string[];
}

/** `froctal host`; its guests outlive it. */
export function startHost(started: Started, o: HostOptions): HostDaemon {
  mkdirSync(o.stateDir, { recursive: true });
  const proc = run(started, [
    "host",
    "--manager",
    o.manager,
    "--id",
    o.id,
    "--credential-file",
    o.credentialFile,
    "--state-dir",
    o.stateDir,
    ...(o.args ?? []),
  ]);
  return { ...proc, id: o.id };
}

/** SIGKILL, then the exit. */
export async function kill9(proc: Proc): Promise<number | null> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill("SIGKILL");
  await proc.exited;
  return proc.child.exitCode;
}

/** A guest process as /proc shows it: its pid and the host (FROCTAL_HOST_ID) that launched it. */
export interface GuestProcess {
  readonly pid: number;
  readonly host: string;
}

/**
 * The live (not zombie) processes of a fleet's guests, by instance id: every
 * process whose environment carries FROCTAL_FLEET_ID=<fleetId>. An id with two
 * processes would be a duplicated guest.
 */
export function guestProcesses(fleetId: string): Map<string, GuestProcess[]> {
  const byInstance = new Map<string, GuestProcess[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let env: string[];
    try {
      env = readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, "latin1"))) continue;
    } catch {
      continue; // gone meanwhile, or not ours to read
    }
    if (!env.includes(`FROCTAL_FLEET_ID=${fleetId}`)) continue;
    const value = (name: string) => env.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1) ?? "?";
    const instance = value("FROCTAL_INSTANCE_ID");
    const found = { pid: Number(entry), host: value("FROCTAL_HOST_ID") };
    byInstance.set(instance, [...(byInstance.get(instance) ?? []), found]);
  }
  return byInstance;
}

/** Instance id -> its one process; throws naming the ids that run as more than one. */
export function oneEach(fleetId: string): Map<string, GuestProcess> {
  const procs = guestProcesses(fleetId);
  const twice = [...procs].filter(([, found]) => found.length !== 1);
  if (twice.length > 0) throw new Error(`duplicated guests: ${JSON.stringify(twice)}`);
  return new Map([...procs].map(([id, [found]]) => [id, found!]));
}

/** Instance id -> the pid of its one process. */
export function onePidEach(fleetId: string): Map<string, number> {
  return new Map([...oneEach(fleetId)].map(([id, p]) => [id, p.pid]));
}

/** Whether `pid` is a live process (not a zombie). */
export function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "latin1"));
  } catch {
    return false;
  }
}

/**
 * Kills everything the test started: its froctal processes, then every guest
 * of its fleets (each leads its own process group, so the group goes too).
 * Resolves with what is still left of the fleets' guests a moment later
 * (an empty list is the expected answer).
 */
export async function cleanUp(started: Started): Promise<string[]> {
  await Promise.all(started.procs.map((p) => kill9(p)));
  for (const fleetId of started.fleetIds) {
    for (const [, found] of guestProcesses(fleetId)) {
      for (const { pid } of found) {
        for (const target of [-pid, pid]) {
          try {
            process.kill(target, "SIGKILL");
          } catch {}
        }
      }
    }
  }
  const deadline = Date.now() + 5_000;
  let left: string[] = [];
  do {
    await new Promise((r) => setTimeout(r, 50));
    left = [...started.fleetIds].flatMap((id) =>
      [...guestProcesses(id)].map(([i, found]) => `${id}/${i}: ${found.map((p) => p.pid)}`),
    );
  } while (left.length > 0 && Date.now() < deadline);
  for (const dir of started.dirs) rmSync(dir, { recursive: true, force: true });
  started.procs.length = 0;
  started.dirs.length = 0;
  return left;
}

/**
 * A fleet module of `replicas` example web guests (no config, no autoscaling),
 * written into `dir`. Its placement waits until every one of `hosts` has been
 * up (a guest asked for before then is retried): the first guests would
 * otherwise all land on whichever host joined first, and a test that faults
 * one host needs guests on both. Then it spreads: the host with the fewest of
 * the service, then the smallest id, among those up.
 */
export function writeWebFleet(dir: string, name: string, replicas: number, hosts: readonly string[]): string {
  const file = join(dir, "fleet.mjs");
  const fleet = { name, services: { web: { image: webGuest, replicas } } };
  writeFileSync(
    file,
    `const seen = new Set();
const fleet = ${JSON.stringify(fleet)};
fleet.placement = (service, up) => {
  for (const h of up) seen.add(h.id);
  if (!${JSON.stringify(hosts)}.every((id) => seen.has(id))) return undefined;
  const fewest = (a, b) => a.guestsOf(service) - b.guestsOf(service) || (a.id < b.id ? -1 : 1);
  return [...up].sort(fewest)[0].id;
};
export default fleet;
`,
  );
  return file;
}

/** The JSON log entries of a process whose message matches `pattern`. */
export function logsMatching(proc: Proc, pattern: RegExp): Record<string, unknown>[] {
  return proc.logs.flatMap((line) => {
    if (!line.startsWith("{")) return [];
    const entry = JSON.parse(line) as Record<string, unknown>;
    return typeof entry.msg === "string" && pattern.test(entry.msg) ? [entry] : [];
  });
}
