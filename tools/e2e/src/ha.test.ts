/**
 * Standby managers on etcd, end to end: two `froctal up --no-local-host`
 * managers of the autoscale fleet on a 3-member etcd cluster (the test's own,
 * on loopback ports), each on a port of its own and given both addresses
 * (--managers); two `froctal host` daemons given both too. The standby comes
 * up only once the guests run: they know it from the leader's --managers. The
 * leader is killed with -9 under load: the standby leads,
 * the hosts and every guest's agent find it at the next address, and it
 * adopts every guest (the same processes: none restarted, lost or duplicated)
 * with the same generations, and 0 requests fail. Then it scales out itself.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, test } from "vitest";
import { type Etcd, startEtcd } from "./etcd.js";
import { driveLoad, eventually, expectNoFailedRequest, freePort, lbStats, root } from "./fleet.js";
import {
  credentialFile,
  froctal,
  guestProcesses,
  kill9,
  logLine,
  type Manager,
  onePidEach,
  startedPerTest,
  startHost,
  startManager,
  tempDir,
} from "./hosts-fleet.js";
import { allReady, HOSTS, hostsOf, lbServing, service } from "./hosts-status.js";

const autoscale = join(root, "apps/examples/autoscale");

let etcd: Etcd;
const started = startedPerTest();
beforeAll(async () => {
  etcd = await startEtcd(3);
});
afterAll(async () => {
  await etcd.stop();
});

test("the leader killed with -9 under load: the standby adopts every guest through the hosts' and agents' address lists, 0 requests fail", async () => {
  const dir = tempDir(started(), "ha");
  const [portA, portB] = [await freePort(), await freePort()];
  const managers = `http://127.0.0.1:${portA},http://127.0.0.1:${portB}`;
  const options = (name: string, port: number) => ({
    fleet: autoscale,
    port,
    stateDir: join(dir, `manager-${name}`),
    graceMs: 10_000,
    stateUrl: etcd.stateUrl,
    // Every manager's address, so that guests launched before the standby comes up know it too.
    args: ["--managers", managers],
  });
  const a: Manager = await startManager(started(), options("a", portA));
  for (const id of HOSTS) {
    const credential = await credentialFile(autoscale, join(dir, "manager-a"), id, dir, etcd.stateUrl);
    startHost(started(), { manager: managers, id, credentialFile: credential, stateDir: join(dir, `host-${id}`) });
  }
  await eventually(async () => (/^a up \d+,b up \d+$/.test(hostsOf(await a.status())) ? true : undefined), "hosts up");
  const lbUrl = await lbServing(() => a);
  const before = await lbStats(lbUrl);
  // 100 requests/s at 40 per instance: 3 web instances.
  let rate = 100;
  const load = driveLoad(lbUrl, () => rate);
  try {
    const out = await allReady(() => a, "web", 3);
    const pids = onePidEach(a.fleetId);
    expect([...pids.keys()].sort()).toEqual(out.services.flatMap((s) => s.instances.map((i) => i.id)).sort());
    const generations = (st: typeof out) =>
      Object.fromEntries(st.services.flatMap((svc) => svc.instances.map((i) => [i.id, i.generation])));
    // What counts is what is committed once the lb has taken the third backend, and no rollout is in flight.
    const settled = await eventually(async () => {
      const s = await a.status();
      return new Set(load.result.servedBy.slice(-100)).size === 3 && s.rollout === null ? s : undefined;
    }, "the lb to send to all 3 web instances, no rollout in flight");
    const committed = generations(settled);
    // Each guest was told of both managers, the leader first.
    const told = `FROCTAL_MANAGER_URL=ws://127.0.0.1:${portA}/agent,ws://127.0.0.1:${portB}/agent`;
    for (const pid of pids.values()) expect(readFileSync(`/proc/${pid}/environ`, "latin1").split("\0")).toContain(told);
    // Only now the standby comes up: it campaigns and waits with no port open, so it logs no URL until it leads.
    const standby = startManager(started(), options("b", portB));
    const standbyProc = started().procs[started().procs.length - 1]!;
    await logLine(standbyProc, (e) =>
      typeof e.msg === "string" && e.msg.startsWith("standing by with the state of fleet autoscale") ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 500)); // its campaign key is written by then

    const killedAt = Date.now();
    expect(await kill9(a)).toBe(null);
    const b = await standby;
    expect(b.fleetId).toBe(a.fleetId);
    const leadingAt = await logLine(b, (e) => (e.msg === "leading fleet autoscale" ? Number(e.time) : undefined));
    // The lease runs out after its TTL (2 s here; etcd checks expiries every 500 ms), then one campaign round.
    expect(leadingAt - killedAt).toBeLessThan(3_000);
    // Both hosts found it at their second address; every guest re-registered with it, and none was started again.
    const adopted = await eventually(async () => {
      const s = await b.status();
      const ready = s.services.flatMap((svc) => svc.instances.filter((i) => i.phase === "ready" && i.connected));
      return /^a up \d+,b up \d+$/.test(hostsOf(s)) && ready.length === pids.size ? s : undefined;
    }, "every guest connected to the new leader");
    console.log(
      `failover with hosts: leading ${leadingAt - killedAt} ms, every guest adopted ${Date.now() - killedAt} ms after the kill`,
    );
    expect(onePidEach(b.fleetId)).toEqual(pids);
    // Every guest keeps the configuration generation it had committed: nothing changed, so nothing was rolled out again.
    expect(generations(adopted)).toEqual(committed);
    // New generations come after the old leader's whole reservation: never one it may have used.
    expect(adopted.generation).toBeGreaterThan(Math.max(...Object.values(committed)));
    expect(service(adopted, "web").target).toBe(3);

    // It acts as the leader: 140 requests/s, one more web instance.
    rate = 140;
    await allReady(() => b, "web", 4, 60_000);
    await load.stop();
    await expectNoFailedRequest(lbUrl, before, load.result);
    expect(await froctal(["down", "--url", b.url])).toMatch(/the fleet is stopping/);
    expect(await b.exited).toBe(0);
  } finally {
    await load.stop();
  }
  expect([...guestProcesses(a.fleetId).keys()]).toEqual([]);
}, 120_000);
