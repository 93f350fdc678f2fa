/**
 * Two managers of one fleet on etcd state (`--state etcd://...`): one leads,
 * the other stands by with no port open and nothing launched. The leader
 * killed with -9: the standby leads and acts within the lease TTL and a
 * little more. The leader frozen past its TTL (SIGSTOP): the standby takes
 * over, and the old one, resumed, learns it lost before acting again and
 * stands by; it leads again when the new leader dies. The etcd member is the
 * test's own (./etcd.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, afterEach, beforeAll, expect, test } from "vitest";
import { type Etcd, startEtcd } from "./etcd.js";
import { eventually, type RunningFleet, root, upFleet } from "./fleet.js";

const TTL_S = 2;
let etcd: Etcd;
const running: RunningFleet[] = [];

beforeAll(async () => {
  etcd = await startEtcd();
});
const standbys: ChildProcess[] = [];
afterEach(async () => {
  for (const child of standbys.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const f of running.splice(0)) {
    f.process.kill("SIGCONT");
    await f.stop();
  }
});
afterAll(async () => {
  await etcd.stop();
});

/** `froctal up` of the autoscale example on the shared etcd, resolving once it leads (it prints its URL then). */
function manager(): Promise<RunningFleet> {
  const started = upFleet("apps/examples/autoscale", {
    stateDir: mkdtempSync(join(tmpdir(), "froctal-failover-")),
    args: ["--state", etcd.stateUrl, "--lease-ttl", String(TTL_S)],
  });
  void started.then((f) => running.push(f)).catch(() => {});
  return started;
}

interface Standby {
  readonly process: ChildProcess;
  readonly logs: string[];
  readonly exited: Promise<number | null>;
}

/** `froctal up` as a standby: it never prints a URL while another leads, so it is watched by its log and exit. */
function standby(): Standby {
  const child = spawn(
    process.execPath,
    [
      join(root, "apps/froctal/dist/main.js"),
      ...["up", join(root, "apps/examples/autoscale"), "--port", "0"],
      ...["--state-dir", mkdtempSync(join(tmpdir(), "froctal-failover-")), "--state", etcd.stateUrl],
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: string[] = [];
  createInterface({ input: child.stdout! }).on("line", (l) => logs.push(l));
  createInterface({ input: child.stderr! }).on("line", (l) => logs.push(l));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  standbys.push(child);
  return { process: child, logs, exited };
}

const exitOf = (s: Standby) => s.exited;

/** Writes `key` in the test's etcd through its JSON gateway, as anyone with access to the cluster could. */
async function etcdPut(key: string, value: string): Promise<void> {
  const body = { key: Buffer.from(key).toString("base64"), value: Buffer.from(value).toString("base64") };
  const res = await fetch(`${etcdHttp()}/v3/kv/put`, { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

async function etcdDelete(key: string): Promise<void> {
  const body = { key: Buffer.from(key).toString("base64") };
  const res = await fetch(`${etcdHttp()}/v3/kv/deleterange`, { method: "POST", body: JSON.stringify(body) });
  expect(res.status).toBe(200);
}

const etcdHttp = () => etcd.stateUrl.replace(/^etcd:/, "http:");

/** When the manager's log first has a line matching `pattern`, ms since the epoch. */
function firstAt(f: RunningFleet, pattern: RegExp): number | undefined {
  for (const line of f.logs) {
    try {
      const entry = JSON.parse(line) as { time?: number; msg?: string };
      if (typeof entry.msg === "string" && pattern.test(entry.msg)) return entry.time;
    } catch {}
  }
  return undefined;
}

async function readyGuests(f: RunningFleet): Promise<number> {
  return eventually(async () => {
    const s = await f.status();
    const ready = s.services.flatMap((svc) => svc.instances.filter((i) => i.phase === "ready"));
    return ready.length === 2 ? ready.length : undefined;
  }, "web and lb ready");
}

test("the leader killed with -9: the standby leads and starts the fleet within the TTL and a second", async () => {
  const a = await manager();
  await readyGuests(a);
  let bLeads = false;
  const b = manager().then((f) => {
    bLeads = true;
    return f;
  });
  // B campaigns and waits: no URL (no port) while A leads.
  await new Promise((r) => setTimeout(r, 1_500));
  expect(bLeads).toBe(false);
  const killedAt = Date.now();
  a.process.kill("SIGKILL");
  const led = await b;
  await readyGuests(led);
  const leadingAt = firstAt(led, /^leading fleet autoscale$/)!;
  const firstStart = firstAt(led, /^starting /)!;
  // The lease runs out after TTL_S (etcd rounds up to the next second at most), then one campaign round.
  expect(leadingAt - killedAt).toBeLessThan((TTL_S + 1) * 1_000);
  expect(firstStart - killedAt).toBeLessThan((TTL_S + 1) * 1_000 + 500);
}, 60_000);

test("a standby reads the fleet's state while it waits: data it could not lead on stops it at once, not at failover", async () => {
  const a = await manager();
  await readyGuests(a);
  const b = standby();
  await eventually(
    async () =>
      b.logs.some((l) =>
        /"msg":"standing by with the state of fleet autoscale from etcd http:\/\/127\.0\.0\.1:\d+ \/froctal\/: 2 instances, generations reserved up to \d+"/.test(
          l,
        ),
      )
        ? true
        : undefined,
    "the standby to report the state it would take over",
  );
  b.process.kill("SIGTERM");
  expect(await exitOf(b)).toBe(0);

  // A key froctal never wrote, under the fleet's prefix: a new standby refuses to stand by on it.
  const key = "/froctal/fleets/autoscale/not-froctal";
  await etcdPut(key, "x");
  try {
    const c = standby();
    expect(await exitOf(c)).toBe(2);
    expect(c.logs.join("\n")).toContain(`froctal: FROCTAL_E_CONFIG: `);
    expect(c.logs.join("\n")).toContain(key);
    // The leader carries on.
    expect((await a.status()).services.map((s) => s.name).sort()).toEqual(["lb", "web"]);
  } finally {
    await etcdDelete(key);
  }
}, 60_000);

test("the leader frozen past its TTL: the standby takes over; the old one, resumed, stands by without acting, and leads again when the new one dies", async () => {
  const a = await manager();
  await readyGuests(a);
  const b = manager();
  await new Promise((r) => setTimeout(r, 1_000));
  a.process.kill("SIGSTOP");
  const led = await b;
  await readyGuests(led);
  const linesBefore = a.logs.length;
  a.process.kill("SIGCONT");
  const messages = () => a.logs.slice(linesBefore).map((l) => (JSON.parse(l) as { msg: string }).msg);
  await eventually(
    async () =>
      messages().includes("campaigning to lead fleet autoscale (standing by while another leads)") ? true : undefined,
    "the old leader to stand by again",
  );
  const resumed = messages();
  expect(resumed.filter((m) => m.startsWith("no longer leading fleet autoscale: "))).toHaveLength(1);
  expect(resumed).toContain("standing by for fleet autoscale again");
  // Nothing decided after the freeze: no start, drain, stop or rollout from the old leader.
  expect(resumed.filter((m) => /^(starting|draining|stopping|generation) /.test(m))).toEqual([]);
  expect(a.process.exitCode).toBe(null);

  // The new leader dies: the old one leads again, from the same state.
  led.process.kill("SIGKILL");
  await eventually(
    async () => (messages().includes("leading fleet autoscale") ? true : undefined),
    "the old leader to lead again",
    (TTL_S + 5) * 1_000,
  );
  await readyGuests(a);
}, 60_000);
