/**
 * Hosts end to end, on real processes: a manager with --no-local-host on a
 * fixed port, two `froctal host` daemons (a and b, a state directory each),
 * guests that are the daemons' children and outlive them. A service scales
 * across both hosts without a failed request; kill -9 of the manager during
 * scale-out loses, duplicates and restarts no guest; kill -9 of a host leaves
 * its guests running for the restarted daemon to adopt; a host stopped past
 * the grace has its instances replaced on the other host, and the replaced
 * guests are stopped when it returns. Guests are found in /proc by the fleet
 * id in their environment, and none may survive a test.
 */
import { join } from "node:path";
import { expect, test } from "vitest";
import { startEtcd } from "./etcd.js";
import { driveLoad, eventually, expectNoFailedRequest, freePort, lbStats, root } from "./fleet.js";
import {
  alive,
  credentialFile,
  froctal,
  guestProcesses,
  type HostDaemon,
  kill9,
  logLine,
  logsMatching,
  type Manager,
  onePidEach,
  startedPerTest,
  startHost,
  startManager,
  tempDir,
  writeWebFleet,
} from "./hosts-fleet.js";
import {
  allReady,
  byProcesses,
  HOSTS,
  type HostId,
  hostsOf,
  ids,
  lbServing,
  placedOn,
  service,
} from "./hosts-status.js";

const autoscale = join(root, "apps/examples/autoscale");

const started = startedPerTest();

interface Fleet {
  manager: Manager;
  readonly hosts: Map<HostId, HostDaemon>;
  readonly fleetId: string;
  /** Starts the manager again on the same port and state directory; resolves once it is ready. */
  restartManager(): Promise<Manager>;
  /** Starts host `id` again with its state directory. */
  restartHost(id: HostId): HostDaemon;
}

/** A manager (--no-local-host, on a port of its own; its state in etcd if given) and hosts a and b; resolves once both hosts are up. */
async function twoHosts(fleet: string, graceMs: number, stateUrl?: string): Promise<Fleet> {
  const dir = tempDir(started(), "hosts");
  const stateDir = join(dir, "manager");
  const port = await freePort();
  const credentials = new Map<HostId, string>();
  for (const id of HOSTS) credentials.set(id, await credentialFile(fleet, stateDir, id, dir, stateUrl));
  const state = stateUrl === undefined ? {} : { stateUrl };
  const manager = await startManager(started(), { fleet, port, stateDir, graceMs, ...state });
  const host = (id: HostId) =>
    startHost(started(), {
      manager: manager.url,
      id,
      credentialFile: credentials.get(id)!,
      stateDir: join(dir, `host-${id}`),
    });
  const f: Fleet = {
    manager,
    hosts: new Map(HOSTS.map((id) => [id, host(id)])),
    fleetId: manager.fleetId,
    restartManager: async () => {
      f.manager = await startManager(started(), { fleet, port, stateDir, graceMs, ...state });
      expect(f.manager.fleetId).toBe(f.fleetId);
      return f.manager;
    },
    restartHost: (id) => {
      const h = host(id);
      f.hosts.set(id, h);
      return h;
    },
  };
  await eventually(async () => {
    const s = await f.manager.status();
    return /^a up \d+,b up \d+$/.test(hostsOf(s)) ? true : undefined;
  }, "hosts a and b to be up");
  return f;
}

/** `froctal down`, then the manager's exit code; every guest of the fleet must be gone by then. */
async function down(f: Fleet): Promise<number | null> {
  expect(await froctal(["down", "--url", f.manager.url])).toMatch(/the fleet is stopping/);
  return await f.manager.exited;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a service scales across two hosts with 0 failed requests", async () => {
  const f = await twoHosts(autoscale, 10_000);
  const lbUrl = await lbServing(() => f.manager);
  const before = await lbStats(lbUrl);
  expect(before.upstreamFailures).toBe(0);

  // 140 requests/s at 40 per instance: ceil(3.5) = 4 web instances (as in autoscale.test.ts).
  let rate = 140;
  const load = driveLoad(lbUrl, () => rate);
  try {
    const out = await allReady(() => f.manager, "web", 4);
    // Spread: each new web instance goes to the host with fewer of them, so 2 and 2, whichever host joined first.
    const web = service(out, "web").instances.map((i) => i.id);
    const lb = service(out, "lb").instances.map((i) => i.id);
    const on = placedOn(out);
    expect([on.a.filter((id) => web.includes(id)).length, on.b.filter((id) => web.includes(id)).length]).toEqual([
      2, 2,
    ]);
    expect([...on.a, ...on.b].sort()).toEqual([...web, ...lb].sort());
    expect(hostsOf(out)).toBe(`a up ${on.a.length},b up ${on.b.length}`);
    // Every guest on both hosts registered, and its gauges stream (load is the web guests' inflight gauge).
    expect(out.services.flatMap((s) => s.instances.filter((i) => !(i.phase === "ready" && i.connected)))).toEqual([]);
    await eventually(async () => {
      const w = service(await f.manager.status(), "web").instances;
      return w.every((i) => typeof i.load === "number") ? true : undefined;
    }, "every web instance's inflight gauge");
    // The lb follows: every ready web instance, on either host, serves, and only those.
    await eventually(async () => {
      const recent = new Set(load.result.servedBy.slice(-150));
      return recent.size === 4 && web.every((id) => recent.has(id)) ? true : undefined;
    }, "the lb to send to all 4 web instances");
    // The guest processes agree: each instance runs once, on the host status names.
    expect(byProcesses(f.fleetId)).toEqual(on);

    // It holds at 4 while the rate does.
    await sleep(2_000);
    const held = service(await f.manager.status(), "web");
    expect([held.target, held.instances.map((i) => i.id)]).toEqual([4, web]);

    rate = 10;
    await allReady(() => f.manager, "web", 1, 60_000);
  } finally {
    await load.stop();
  }
  await expectNoFailedRequest(lbUrl, before, load.result);

  // In to 1, each stop after a drain, on whichever host the instance ran.
  const stops = logsMatching(f.manager, /^stopping web-\d+/).map((e) => e.msg);
  expect(stops.length).toBe(3);
  expect(stops.filter((m) => / it finished draining$/.test(String(m)))).toEqual(stops);

  expect(guestProcesses(f.fleetId).size).toBe(2);
  expect(await down(f)).toBe(0);
  expect([...guestProcesses(f.fleetId).keys()]).toEqual([]);
});

/*
 * What this found, and the manager now does (packages/manager/src/durable/resync.ts): a
 * restarted manager has adopted guests but none of their facts until they reconnect and
 * re-announce. It used to scale in at once on the load it had not heard yet (draining an
 * adopted guest with no session in 1 ms), and to roll out an lb config without the web
 * guests' endpoints (the client saw "HTTP 503: no backends"). Until every adopted guest has
 * re-reported (or resyncMs passed) it now neither scales in nor begins a rollout.
 */
test("kill -9 of the manager during scale-out, 3 rounds: no guest dies, is lost, duplicated or started again", async () => {
  const f = await twoHosts(autoscale, 5_000);
  const lbUrl = await lbServing(() => f.manager);
  const before = await lbStats(lbUrl);
  // 60, 100, 140 requests/s at 40 per instance: 2, then 3, then 4 web instances.
  const rounds = [
    { rate: 60, web: 2 },
    { rate: 100, web: 3 },
    { rate: 140, web: 4 },
  ];
  let rate = 10;
  const load = driveLoad(lbUrl, () => rate);
  try {
    for (const [n, round] of rounds.entries()) {
      const known = new Set(service(await f.manager.status(), "web").instances.map((i) => i.id));
      rate = round.rate;
      // The scale-out decision: the target rises past what runs; the kill lands somewhere in its start.
      await eventually(
        async () => (service(await f.manager.status(), "web").target > known.size ? true : undefined),
        `round ${n + 1}: web to scale out`,
      );
      const delayMs = 200 + Math.floor(Math.random() * 1_300);
      const why = `round ${n + 1}, manager killed ${delayMs} ms after the scale-out decision`;
      await sleep(delayMs);
      const pidsBefore = onePidEach(f.fleetId);
      expect(await kill9(f.manager), why).toBe(null);
      // A start the host had already received may still be spawning: let it land before counting.
      await sleep(300);
      const pidsAtKill = onePidEach(f.fleetId);
      for (const [id, pid] of pidsBefore) expect(pidsAtKill.get(id), `${why}: ${id}`).toBe(pid);

      const m = await f.restartManager();
      const [restored] = logsMatching(m, /^restored state from /);
      expect(
        {
          adopted: [...((restored?.adopted as string[] | undefined) ?? [])].sort(),
          orphansStopped: restored?.orphansStopped,
          unproven: restored?.unproven,
        },
        why,
      ).toEqual({ adopted: [...pidsAtKill.keys()].sort(), orphansStopped: [], unproven: [] });
      const first = await m.status();
      expect(
        [...pidsAtKill.keys()].filter((id) => !ids(first).includes(id)),
        `${why}: running guests the restarted manager does not list`,
      ).toEqual([]);

      const settled = await eventually(async () => {
        const s = await allReady(() => m, "web", round.web);
        const running = [...onePidEach(f.fleetId).keys()].sort();
        return running.join() === ids(s).join() ? s : undefined;
      }, `${why}: web at ${round.web} ready instances, each one process`);
      const pids = onePidEach(f.fleetId);
      for (const [id, pid] of pidsAtKill) expect(pids.get(id), `${why}: ${id} adopted, not restarted`).toBe(pid);
      const on = placedOn(settled);
      expect([...on.a, ...on.b].sort(), why).toEqual(ids(settled));
      expect(byProcesses(f.fleetId), `${why}: the host each guest process runs on`).toEqual(on);
      expect(hostsOf(settled), why).toBe(`a up ${on.a.length},b up ${on.b.length}`);
    }
  } finally {
    await load.stop();
  }
  // The guests served on while their manager was away, and no request failed, at the client or behind the lb.
  await expectNoFailedRequest(lbUrl, before, load.result);

  expect(await down(f)).toBe(0);
  expect([...guestProcesses(f.fleetId).keys()]).toEqual([]);
});

test("on etcd state: a manager killed with -9 and restarted re-adopts every guest from what etcd kept", async () => {
  const etcd = await startEtcd();
  try {
    const dir = tempDir(started(), "fleet");
    const f = await twoHosts(writeWebFleet(dir, "hosts-etcd", 4, HOSTS), 10_000, etcd.stateUrl);
    const before = await allReady(() => f.manager, "web", 4);
    const pids = onePidEach(f.fleetId);
    expect(await kill9(f.manager)).toBe(null);
    const m = await f.restartManager();
    const [restored] = logsMatching(m, /^restored state from etcd /);
    expect([...((restored?.adopted as string[] | undefined) ?? [])].sort()).toEqual(ids(before));
    const after = await allReady(() => m, "web", 4);
    expect(ids(after)).toEqual(ids(before));
    expect(onePidEach(f.fleetId)).toEqual(pids);
    expect(await down(f)).toBe(0);
    expect([...guestProcesses(f.fleetId).keys()]).toEqual([]);
  } finally {
    await etcd.stop();
  }
});

test("a host's kill -9 leaves its guests running, and the restarted daemon re-adopts them", async () => {
  const dir = tempDir(started(), "fleet");
  const f = await twoHosts(writeWebFleet(dir, "hosts-kill-host", 4, HOSTS), 10_000);
  const before = await allReady(() => f.manager, "web", 4);
  const pids = onePidEach(f.fleetId);
  const on = placedOn(before);
  expect([on.a.length, on.b.length]).toEqual([2, 2]);
  expect(byProcesses(f.fleetId)).toEqual(on);

  expect(await kill9(f.hosts.get("a")!)).toBe(null);
  // The manager hears the link end: host a is silent, within its grace, and still holds its instances.
  const silent = await eventually(async () => {
    const s = await f.manager.status();
    return s.hosts.find((h) => h.id === "a")?.status === "silent" ? s : undefined;
  }, "host a to be silent");
  expect(ids(silent)).toEqual(ids(before));
  for (const [, pid] of pids) expect(alive(pid)).toBe(true);

  const again = f.restartHost("a");
  const adoption = await logLine(again, (e) =>
    typeof e.msg === "string" && /^adopted \d+ guests still running/.test(e.msg) ? e : undefined,
  );
  expect(adoption.msg).toBe("adopted 2 guests still running; 0 were gone");
  expect([...(adoption.adopted as string[])].sort()).toEqual(on.a);

  const after = await eventually(async () => {
    const s = await f.manager.status();
    return hostsOf(s) === "a up 2,b up 2" ? s : undefined;
  }, "host a to be up again with its 2 guests");
  expect(ids(after)).toEqual(ids(before));
  expect(placedOn(after)).toEqual(on);
  await allReady(() => f.manager, "web", 4);
  expect(onePidEach(f.fleetId)).toEqual(pids);
  expect(byProcesses(f.fleetId)).toEqual(on);

  expect(await down(f)).toBe(0);
  expect([...guestProcesses(f.fleetId).keys()]).toEqual([]);
});

test("a host stopped past the grace: its instances are replaced on the other host, and stopped there when it returns", async () => {
  const dir = tempDir(started(), "fleet");
  const f = await twoHosts(writeWebFleet(dir, "hosts-lost-host", 4, HOSTS), 2_000);
  const before = await allReady(() => f.manager, "web", 4);
  const pids = onePidEach(f.fleetId);
  const on = placedOn(before);
  expect([on.a.length, on.b.length]).toEqual([2, 2]);
  expect(byProcesses(f.fleetId)).toEqual(on);

  const b = f.hosts.get("b")!;
  b.child.kill("SIGSTOP");
  try {
    // Two missed pings make it silent, the grace makes it lost; its two instances are replaced on a.
    const replaced = await eventually(
      async () => {
        const s = await f.manager.status();
        const hostB = s.hosts.find((h) => h.id === "b");
        const web = service(s, "web");
        const ready = web.instances.filter((i) => i.phase === "ready" && i.connected).length;
        return hostB?.status === "lost" && web.instances.length === 4 && ready === 4 ? s : undefined;
      },
      "host b lost and web back to 4 ready instances",
      20_000,
    );
    const now = placedOn(replaced);
    expect(now.b).toEqual([]);
    expect(now.a.length).toBe(4);
    expect(now.a.filter((id) => on.a.includes(id))).toEqual(on.a);
    expect(hostsOf(replaced)).toBe("a up 4,b lost 0");
    expect(ids(replaced).filter((id) => on.b.includes(id))).toEqual([]);
    // The stopped host's guests still run meanwhile (a stopped daemon does not stop its children), beside their replacements.
    expect(byProcesses(f.fleetId)).toEqual({ a: now.a, b: on.b });
    for (const id of on.b) expect(onePidEach(f.fleetId).get(id)).toBe(pids.get(id));
  } finally {
    b.child.kill("SIGCONT");
  }

  // Back: what was replaced while it was lost is stopped there, not adopted again.
  await eventually(
    async () => (on.b.every((id) => !alive(pids.get(id)!)) ? true : undefined),
    "b's replaced guests to be stopped",
  );
  const stoppedThere = logsMatching(f.manager, /^stopping web-\d+ on host b: it was replaced while the host was lost$/);
  expect(stoppedThere.map((e) => e.instance).sort()).toEqual(on.b);
  const after = await eventually(async () => {
    const s = await f.manager.status();
    return hostsOf(s) === "a up 4,b up 0" ? s : undefined;
  }, "host b up again with no guest");
  const web = service(after, "web");
  expect([web.target, web.instances.length]).toEqual([4, 4]);
  expect(byProcesses(f.fleetId)).toEqual({ a: ids(after), b: [] });
  for (const id of on.a) expect(onePidEach(f.fleetId).get(id)).toBe(pids.get(id));

  expect(await down(f)).toBe(0);
  expect([...guestProcesses(f.fleetId).keys()]).toEqual([]);
});
