/**
 * kill -9 of the manager at random points of a config rollout and of a drain,
 * on both state backends (SQLite, one etcd member), and started again on the
 * same state: no guest dies, is lost, duplicated or restarted; only what the
 * fleet meant to stop goes; no instance id is ever given to a second guest;
 * generations never go back and are never reused; the rollout in flight
 * completes or aborts on every lb, each then running the generation last
 * committed on it and sending to exactly the ready web guests; and the load
 * through the lb sees 0 failed requests. The crash points come from a seeded
 * generator: the seed is printed, named in every failure message, and
 * FROCTAL_CRASH_SEED=<seed> repeats it.
 */
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, test } from "vitest";
import { crashFleet, crashSeed, PREPARE_MS, seeded } from "./crash-points-fleet.js";
import { startEtcd } from "./etcd.js";
import { driveLoad, expectNoFailedRequest, lbStats } from "./fleet.js";
import {
  froctal,
  guestProcesses,
  type HostsStatus,
  kill9,
  type Manager,
  onePidEach,
  startedPerTest,
} from "./hosts-fleet.js";
import { ids, lbServing, service } from "./hosts-status.js";

const SEED = crashSeed();
console.log(`crash points: seed ${SEED} (FROCTAL_CRASH_SEED=${SEED} repeats this run)`);

const started = startedPerTest();

/** What a round does: the load it sets, the web size that load asks for, and where the kill lands. */
interface Round {
  readonly rate: number;
  readonly web: number;
  readonly crash: "rollout" | "drain";
}

// At 40 requests/s per web instance: out to 3 (a rollout per web guest that becomes ready), in to 1 (drains,
// each with the rollout that takes the guest off the lbs), out to 2.
const ROUNDS: readonly Round[] = [
  { rate: 100, web: 3, crash: "rollout" },
  { rate: 20, web: 1, crash: "drain" },
  { rate: 60, web: 2, crash: "rollout" },
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The JSON log entries of every manager of the run, in order. */
function entries(managers: readonly Manager[]): Record<string, unknown>[] {
  return managers.flatMap((m) =>
    m.logs.flatMap((l) => (l.startsWith("{") ? [JSON.parse(l) as Record<string, unknown>] : [])),
  );
}
const messages = (managers: readonly Manager[]) =>
  entries(managers).flatMap((e) => (typeof e.msg === "string" ? [e.msg] : []));

/** The generations a manager's journal names (rollout outcomes). */
const generationsIn = (m: Manager) =>
  messages([m])
    .flatMap((msg) => /^generation (\d+) (?:committed|aborted)/.exec(msg)?.[1] ?? [])
    .map(Number);

/** The instances a manager meant to stop: it drained or stopped them. */
const meantToStop = (m: Manager) =>
  messages([m]).flatMap((msg) => /^(?:draining|stopping) ([a-z]+-\d+):/.exec(msg)?.[1] ?? []);

/** Instance id -> the generation its latest committed rollout outcome (in any manager's journal) gave it. */
function lastCommitted(managers: readonly Manager[]): Map<string, number> {
  const last = new Map<string, number>();
  for (const msg of messages(managers)) {
    const m = /^generation (\d+) committed on ([^;]+)/.exec(msg);
    if (m === null || m[2] === "no instance") continue;
    for (const id of m[2]!.split(", ")) last.set(id, Number(m[1]));
  }
  return last;
}

/**
 * Everything a run observed, checked as it is observed: each instance id has
 * one process, always the same pid (never restarted under its id, never
 * given to another guest), status never lists an id twice nor again once it
 * was gone, and the generation status shows never goes back.
 */
class Ledger {
  readonly pidOf = new Map<string, number>();
  private listed = new Set<string>();
  private readonly gone = new Set<string>();
  generation = 0;

  constructor(
    private readonly fleetId: string,
    readonly why: () => string,
  ) {}

  pids(): Map<string, number> {
    const now = onePidEach(this.fleetId);
    for (const [id, pid] of now) {
      const was = this.pidOf.get(id) ?? pid;
      const why = `${this.why()}: ${id} ran as pid ${was} and now as ${pid} (restarted, or its id given to a new guest)`;
      expect(pid, why).toBe(was);
      this.pidOf.set(id, pid);
    }
    return now;
  }

  async look(m: Manager): Promise<HostsStatus> {
    const s = await m.status();
    const all = s.services.flatMap((svc) => svc.instances.map((i) => i.id));
    expect(
      all.filter((id, n) => all.indexOf(id) !== n),
      `${this.why()}: ids listed twice`,
    ).toEqual([]);
    expect(
      all.filter((id) => this.gone.has(id)),
      `${this.why()}: ids listed again after they were gone (given to new instances)`,
    ).toEqual([]);
    for (const id of this.listed) if (!all.includes(id)) this.gone.add(id);
    this.listed = new Set(all);
    expect(s.generation, `${this.why()}: the generation went back`).toBeGreaterThanOrEqual(this.generation);
    this.generation = s.generation;
    return s;
  }

  /** Polls status every 20 ms until `pick` returns something. */
  async until<T>(m: () => Manager, pick: (s: HostsStatus) => T | undefined, what: string, ms = 30_000): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = pick(await this.look(m()));
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`${this.why()}: timed out after ${ms} ms waiting for ${what}`);
      await sleep(20);
    }
  }
}

const readyOf = (s: HostsStatus, name: string) =>
  service(s, name).instances.filter((i) => i.phase === "ready" && i.connected);

/**
 * Settled: web at `webSize` ready instances (its target), both lbs ready,
 * nothing in flight, every guest heard from (its endpoint
 * re-announced, after a restart), and status and the processes agree on
 * every instance.
 */
function converged(s: HostsStatus, webSize: number, fleetId: string): boolean {
  const web = service(s, "web");
  const lbs = service(s, "lb").instances;
  return (
    web.target === webSize &&
    web.instances.length === webSize &&
    readyOf(s, "web").length === webSize &&
    readyOf(s, "lb").length === 2 &&
    lbs.length === 2 &&
    s.rollout === null &&
    s.services.every((svc) => svc.instances.every((i) => typeof i.endpoint === "string")) &&
    [...onePidEach(fleetId).keys()].sort().join() === ids(s).join()
  );
}

/** Sends `n` requests to an lb, one at a time; the web instances that answered, and the count of each outcome. */
async function probe(lbUrl: string, n: number): Promise<{ servedBy: Set<string>; ok: number; failed: string[] }> {
  const servedBy = new Set<string>();
  const failed: string[] = [];
  let ok = 0;
  for (let k = 0; k < n; k++) {
    const res = await fetch(`${lbUrl}/?work=1`).catch((e: unknown) => String(e));
    if (typeof res === "string") failed.push(res);
    else if (res.status !== 200) failed.push(`HTTP ${res.status}: ${await res.text()}`);
    else {
      ok++;
      servedBy.add(((await res.json()) as { instance: string }).instance);
    }
  }
  return { servedBy, ok, failed };
}

/** Until `sample` (the web instances an lb sent a batch of requests to) is exactly `web`; at most 10 s. */
async function sendsTo(what: string, web: readonly string[], sample: () => Promise<string[] | undefined>) {
  const deadline = Date.now() + 10_000;
  let seen: string[] | undefined;
  for (;;) {
    const got = await sample();
    if (got !== undefined) seen = [...new Set(got)].sort();
    if (seen?.join() === web.join()) return;
    if (Date.now() > deadline) {
      expect(seen, `${what} sends to other web instances than the ready ones, after 10 s`).toEqual(web);
    }
    await sleep(100);
  }
}

/**
 * The rounds on one backend. On failure (or with FROCTAL_CRASH_LOGS=1) every
 * manager's and host's log goes to a file in the temp folder, named in the output.
 */
async function crashRounds(backend: "sqlite" | "etcd", stateUrl?: string): Promise<void> {
  const logs: { name: string; logs: string[] }[] = [];
  let failed = true;
  try {
    await rounds(backend, logs, stateUrl);
    failed = false;
  } finally {
    if (failed || process.env.FROCTAL_CRASH_LOGS === "1") {
      const file = join(tmpdir(), `froctal-crash-${SEED}-${backend}.log`);
      writeFileSync(file, logs.map((p) => `==== ${p.name}\n${p.logs.join("\n")}\n`).join(""));
      console.log(`seed ${SEED}, ${backend}: the managers' and hosts' logs are in ${file}`);
    }
  }
}

async function rounds(backend: "sqlite" | "etcd", logs: { name: string; logs: string[] }[], stateUrl?: string) {
  // Each backend draws from a stream of its own, so one test run alone (vitest -t) meets the same points.
  const draw = seeded(SEED ^ (backend === "etcd" ? 0x9e3779b9 : 0));
  let where = `seed ${SEED}, ${backend}, starting`;
  const f = await crashFleet(started(), `crash-${backend}`, stateUrl);
  const ledger = new Ledger(f.fleetId, () => where);
  const managers: Manager[] = [f.manager];
  logs.push({ name: "manager 1", logs: f.manager.logs });
  for (const [id, h] of f.hosts) logs.push({ name: `host ${id}`, logs: h.logs });
  const lbUrl = await lbServing(() => f.manager);
  const before = await lbStats(lbUrl);
  let rate = 10;
  const load = driveLoad(lbUrl, () => rate);
  try {
    await ledger.until(
      () => f.manager,
      (s) => (converged(s, 1, f.fleetId) ? s : undefined),
      "1 web, 2 lbs",
    );
    for (const [n, round] of ROUNDS.entries()) {
      where = `seed ${SEED}, ${backend}, round ${n + 1} (${round.crash})`;
      const start = await ledger.look(f.manager);
      rate = round.rate;
      // The trigger: a generation newer than the round's start in flight, or a web instance draining.
      await ledger.until(
        () => f.manager,
        (s) =>
          round.crash === "rollout"
            ? s.rollout !== null && s.rollout.generation > start.generation
              ? s
              : undefined
            : service(s, "web").instances.some((i) => i.phase === "draining")
              ? s
              : undefined,
        `a ${round.crash} to begin`,
      );
      // Within a generation's prepare (and a little past its commit), or within a drain's quiet time and rollout.
      const delayMs = draw(0, round.crash === "rollout" ? PREPARE_MS + 200 : 900);
      where += `, manager killed ${delayMs} ms after the ${round.crash} began`;
      const deadline = Date.now() + delayMs;
      let last = await ledger.look(f.manager);
      while (Date.now() < deadline) {
        await sleep(Math.min(15, Math.max(0, deadline - Date.now())));
        if (Date.now() < deadline) last = await ledger.look(f.manager);
      }
      const pidsBefore = ledger.pids();
      const killed = f.manager;
      expect(await kill9(killed), where).toBe(null);
      const inFlight = last.rollout;
      where += ` (last seen: generation ${last.generation}, in flight ${JSON.stringify(inFlight)})`;
      console.log(where);
      // A start or stop the host had already received may still be landing: let it, before counting.
      await sleep(300);
      const pidsAtKill = ledger.pids();
      const stopping = new Set([
        ...meantToStop(killed),
        ...last.services.flatMap((svc) =>
          svc.instances.filter((i) => i.phase === "draining" || i.phase === "stopping").map((i) => i.id),
        ),
      ]);
      for (const [id, pid] of pidsBefore) {
        if (!stopping.has(id)) expect(pidsAtKill.get(id), `${where}: ${id} died with its manager`).toBe(pid);
      }
      const oldGenerations = Math.max(ledger.generation, ...generationsIn(killed));

      const m = await f.restartManager();
      managers.push(m);
      logs.push({ name: `manager ${managers.length}`, logs: m.logs });
      const restored = entries([m]).find((e) => /^restored state from /.test(String(e.msg)));
      expect(
        {
          adopted: [...((restored?.adopted as string[] | undefined) ?? [])].sort(),
          orphansStopped: restored?.orphansStopped,
          unproven: restored?.unproven,
        },
        `${where}: what the restarted manager re-adopted`,
      ).toEqual({ adopted: [...pidsAtKill.keys()].sort(), orphansStopped: [], unproven: [] });
      expect(restored?.generation as number, `${where}: the restored generation`).toBeGreaterThanOrEqual(
        oldGenerations,
      );
      const first = await ledger.look(m);
      expect(
        [...pidsAtKill.keys()].filter((id) => !ids(first).includes(id)),
        `${where}: running guests the restarted manager does not list`,
      ).toEqual([]);

      // Converged: web at the round's size, both lbs ready, nothing in flight, every guest
      // heard from again, and status and the processes agree on every instance.
      const settled = await ledger.until(
        () => m,
        (s) => (converged(s, round.web, f.fleetId) ? s : undefined),
        `web at ${round.web} ready, both lbs ready, nothing in flight`,
      );
      const pids = ledger.pids();
      expect([...pids.keys()].sort(), `${where}: guest processes`).toEqual(ids(settled));
      const goneOnPurpose = new Set([...stopping, ...meantToStop(m)]);
      for (const [id, pid] of pidsAtKill) {
        if (!goneOnPurpose.has(id)) expect(pids.get(id), `${where}: ${id} adopted, not restarted`).toBe(pid);
      }
      // Generations: the restarted manager hands out none the killed one may have used.
      expect(
        generationsIn(m).filter((g) => g <= oldGenerations),
        `${where}: generations the restarted manager reused`,
      ).toEqual([]);
      const lbs = service(settled, "lb").instances;
      // Each lb sends to exactly the ready web instances: the loaded one, as the load's latest answers say (a
      // probe's burst would add to the requests per second the web size follows); the other, by a probe.
      const web = readyOf(settled, "web")
        .map((i) => i.id)
        .sort();
      for (const lb of lbs) {
        const url = String(lb.endpoint);
        let okAt = load.result.ok;
        await sendsTo(`${where}: ${lb.id}`, web, async () => {
          if (url !== lbUrl) {
            const p = await probe(url, 2 * round.web);
            expect(p.failed, `${where}: probing ${lb.id}`).toEqual([]);
            return [...p.servedBy];
          }
          // Answers since the last sample, but for the first few (sent before it, perhaps on the set before).
          const fresh = load.result.ok - okAt;
          if (fresh < 4 * round.web + 5) return undefined;
          okAt = load.result.ok;
          return load.result.servedBy.slice(-(fresh - 5));
        });
      }
      // The rollout in flight at the kill completed or aborted everywhere: each lb runs the generation last
      // committed on it (the lbs need not share one: one that joined later got a generation of its own).
      const now = await ledger.until(
        () => m,
        (s) => (s.rollout === null ? s : undefined),
        "no rollout in flight",
      );
      const committed = lastCommitted(managers);
      const lbsNow = service(now, "lb").instances;
      expect(
        lbsNow.map((i) => `${i.id} ${i.generation}`),
        `${where}: each lb's generation, and the last committed on it`,
      ).toEqual(lbsNow.map((i) => `${i.id} ${committed.get(i.id)}`));
    }
  } finally {
    await load.stop();
  }
  where = `seed ${SEED}, ${backend}, after the rounds`;
  await expectNoFailedRequest(lbUrl, before, load.result);
  // Every web guest that stopped was drained first, whichever manager stopped it.
  const stops = messages(managers).filter((msg) => /^stopping web-\d+/.test(msg));
  expect(
    stops.filter((msg) => !/: it finished draining$/.test(msg)),
    where,
  ).toEqual([]);

  expect(await froctal(["down", "--url", f.manager.url])).toMatch(/the fleet is stopping/);
  expect(await f.manager.exited).toBe(0);
  expect([...guestProcesses(f.fleetId).keys()]).toEqual([]);
}

test(`kill -9 during rollouts and drains, SQLite state: nothing lost or duplicated, the fleet converges (seed ${SEED})`, async () => {
  await crashRounds("sqlite");
}, 90_000);

test(`kill -9 during rollouts and drains, etcd state: nothing lost or duplicated, the fleet converges (seed ${SEED})`, async () => {
  const etcd = await startEtcd();
  try {
    await crashRounds("etcd", etcd.stateUrl);
  } finally {
    await etcd.stop();
  }
}, 90_000);
