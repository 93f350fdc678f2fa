/** Runs the froctal binary as a child process and talks to it the way a user would. */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { Agent, request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import type { ManagerStatus } from "@froctal/manager";
import { afterEach, beforeEach, expect } from "vitest";

export const root = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const bin = join(root, "apps/froctal/dist/main.js");

export interface RunningFleet {
  readonly process: ChildProcess;
  readonly url: string;
  readonly logs: string[];
  status(): Promise<ManagerStatus>;
  /** SIGTERM, then wait for the manager to exit; resolves with its exit code. */
  stop(): Promise<number | null>;
}

export interface UpOptions {
  /** The manager's --state-dir (default: a fresh temporary directory). */
  readonly stateDir?: string;
  /** Extra environment for the manager (the fleet module reads it when it loads). */
  readonly env?: Readonly<Record<string, string>>;
  /** Extra arguments for `froctal up` (e.g. --record FILE). */
  readonly args?: readonly string[];
}

export async function upFleet(fleet: string, options: UpOptions = {}): Promise<RunningFleet> {
  // Each run keeps its durable state in a directory of its own (or the one given, to test a restart).
  const stateDir = options.stateDir ?? mkdtempSync(join(tmpdir(), "froctal-e2e-state-"));
  const child = spawn(
    process.execPath,
    [bin, "up", join(root, fleet), "--port", "0", "--state-dir", stateDir, ...(options.args ?? [])],
    {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...options.env },
    },
  );
  const logs: string[] = [];
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(`stderr: ${l}`));
  const url = await new Promise<string>((resolveUrl, reject) => {
    const timer = setTimeout(() => reject(new Error(`the manager printed no URL:\n${logs.join("\n")}`)), 20_000);
    createInterface({ input: child.stdout! }).on("line", (line) => {
      logs.push(line);
      try {
        const entry = JSON.parse(line) as { url?: string };
        if (entry.url !== undefined) {
          clearTimeout(timer);
          resolveUrl(entry.url);
        }
      } catch {}
    });
    void exited.then((code) => reject(new Error(`the manager exited with ${code}:\n${logs.join("\n")}`)));
  });
  return {
    process: child,
    url,
    logs,
    status: async () => (await (await fetch(`${url}/status`)).json()) as ManagerStatus,
    stop: async () => {
      child.kill("SIGTERM");
      const code = await exited;
      // A state directory this run made is its own to remove; one given by the test is the test's.
      if (options.stateDir === undefined) rmSync(stateDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** Every journal entry's sentence, from the manager's log, in order (status keeps only the latest few). */
export function journalOf(fleet: RunningFleet): string[] {
  return fleet.logs.flatMap((l) => {
    try {
      const entry = JSON.parse(l) as { kind?: string; msg?: string };
      return entry.kind !== undefined && entry.msg !== undefined ? [entry.msg] : [];
    } catch {
      return [];
    }
  });
}

/** Polls `probe` until it returns something other than undefined. */
export async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A TCP port free now on 127.0.0.1 (for FROCTAL_PORT, or a manager that must restart on the port its hosts and guests redial). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

export interface LbStats {
  readonly proxied: number;
  readonly upstreamFailures: number;
  readonly failed: number;
}

/** The lb's own counters (apps/examples/lb answers this path itself). */
export async function lbStats(lbUrl: string): Promise<LbStats> {
  return (await (await fetch(`${lbUrl}/_lb/stats`)).json()) as LbStats;
}

/**
 * No request failed: none at the client, and behind the lb since `before` no
 * upstream attempt failed (so no retry hid one) and each client request was
 * one upstream answer.
 */
export async function expectNoFailedRequest(lbUrl: string, before: LbStats, result: LoadResult): Promise<void> {
  expect(result.failures.slice(0, 5)).toEqual([]);
  expect(result.failed).toBe(0);
  const after = await lbStats(lbUrl);
  expect({
    upstreamFailures: after.upstreamFailures - before.upstreamFailures,
    failed: after.failed - before.failed,
    proxied: after.proxied - before.proxied,
  }).toEqual({ upstreamFailures: 0, failed: 0, proxied: result.ok });
}

export interface LoadResult {
  ok: number;
  failed: number;
  /** Why requests failed (status code or error), for the assertion message. */
  readonly failures: string[];
  /** Which instance served each of the last requests (the web guest names itself). */
  readonly servedBy: string[];
}

/**
 * Sends GET requests at `rate()` per second until stopped. The pace is kept
 * on elapsed time (a credit of requests due), not per-request timers, whose
 * lateness would add up to a lower rate than asked: the autoscale test needs
 * the rate it asks for to count its replicas exactly.
 */
export function driveLoad(url: string, rate: () => number): { result: LoadResult; stop(): Promise<void> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 128 });
  const result: LoadResult = { ok: 0, failed: 0, failures: [], servedBy: [] };
  const pending = new Set<Promise<void>>();
  let running = true;
  const one = () =>
    new Promise<void>((done) => {
      const req = request(`${url}/?work=20`, { agent }, (res) => {
        let body = "";
        res.on("data", (c: Buffer) => {
          body += c.toString();
        });
        res.on("end", () => {
          if (res.statusCode === 200) {
            result.ok++;
            result.servedBy.push((JSON.parse(body) as { instance: string }).instance);
            if (result.servedBy.length > 400) result.servedBy.splice(0, 200);
          } else {
            result.failed++;
            result.failures.push(`HTTP ${res.statusCode}: ${body.trim()}`);
          }
          done();
        });
      });
      req.on("error", (e) => {
        result.failed++;
        result.failures.push(e.message);
        done();
      });
      req.setTimeout(5_000, () => req.destroy());
      req.end();
    });
  const loop = (async () => {
    let due = 1;
    let last = performance.now();
    while (running) {
      const now = performance.now();
      due += ((now - last) / 1000) * rate();
      last = now;
      for (; due >= 1; due--) {
        const p = one();
        pending.add(p);
        void p.finally(() => pending.delete(p));
      }
      await new Promise((r) => setTimeout(r, 5));
    }
  })();
  return {
    result,
    stop: async () => {
      running = false;
      await loop;
      await Promise.all(pending);
      agent.destroy();
    },
  };
}

/** Processes on this machine whose environment points at this manager (its guests). */
export function guestsOf(managerUrl: string): number[] {
  const ws = managerUrl.replace(/^http/, "ws");
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, "latin1").includes(`FROCTAL_MANAGER_URL=${ws}/agent`)) {
        const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
        if (!/\) Z /.test(stat)) pids.push(Number(entry));
      }
    } catch {}
  }
  return pids;
}

/** The pid of the guest process running `instanceId` for this manager. */
export function guestPid(managerUrl: string, instanceId: string): number {
  const pid = guestsOf(managerUrl).find((p) => {
    try {
      return readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`FROCTAL_INSTANCE_ID=${instanceId}`);
    } catch {
      return false;
    }
  });
  if (pid === undefined) throw new Error(`no guest process runs ${instanceId}`);
  return pid;
}

/** What guest `instanceId` printed on stdout, in order, as the manager logged it. */
export function guestLines(fleet: RunningFleet, instanceId: string): string[] {
  const lines: string[] = [];
  for (const line of fleet.logs) {
    if (!line.startsWith("{")) continue;
    try {
      const entry = JSON.parse(line) as { component?: string; instance?: string; stream?: string; msg?: string };
      if (entry.component === "guest" && entry.instance === instanceId && entry.stream === "stdout") {
        lines.push(entry.msg ?? "");
      }
    } catch {}
  }
  return lines;
}

/** Waits until guest `instanceId` prints a line matching `pattern`; resolves with the match. */
export function guestSaid(
  fleet: RunningFleet,
  instanceId: string,
  pattern: RegExp,
  timeoutMs = 15_000,
): Promise<RegExpMatchArray> {
  return eventually(
    async () => {
      for (const line of guestLines(fleet, instanceId)) {
        const m = pattern.exec(line);
        if (m !== null) return m;
      }
      return undefined;
    },
    `${instanceId} to print ${pattern}`,
    timeoutMs,
  );
}

/** Writes JSON so a watcher never reads it half-written: a hidden temporary file, then a rename. */
export function writeJsonAtomically(path: string, value: unknown): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(value)}\n`);
  renameSync(tmp, path);
}

/**
 * Runs a fleet afresh for each test, with a device directory of its own (the
 * examples' guests read their devices from files there), and checks after each
 * test that the manager exits cleanly and leaves no guest behind.
 */
export function fleetPerTest(path: string): { readonly fleet: RunningFleet; readonly devices: string } {
  let fleet: RunningFleet | undefined;
  let devices = "";
  beforeEach(async () => {
    devices = mkdtempSync(join(tmpdir(), "froctal-devices-"));
    fleet = await upFleet(path, { env: { FROCTAL_DEVICE_DIR: devices } });
  });
  afterEach(async () => {
    const f = fleet;
    fleet = undefined;
    try {
      if (f !== undefined) {
        expect(await f.stop()).toBe(0);
        expect(guestsOf(f.url)).toEqual([]);
      }
    } finally {
      rmSync(devices, { recursive: true, force: true });
    }
  });
  return {
    get fleet() {
      if (fleet === undefined) throw new Error("no fleet runs outside a test");
      return fleet;
    },
    get devices() {
      return devices;
    },
  };
}
