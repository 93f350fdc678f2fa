import { existsSync } from "node:fs";
import { type Cluster, startCluster } from "@froctal/etcd-members";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BUILT, CandidateProcess } from "../test/candidate-process.js";
import { freshPrefix, record, Stores } from "../test/helpers.js";
import { type CampaignOptions, campaign, electionPrefix, type Leadership } from "./leadership.js";

/** TTL 2 s, as the issue measured for process kills (a frozen etcd member needs >= 5 s; none is frozen here). */
const TTL = 2;
const FLEET = "f";

let cluster: Cluster;
const stores = new Stores();
const leaderships: Leadership[] = [];
const children: CandidateProcess[] = [];

beforeAll(async () => {
  cluster = await startCluster(1);
}, 20_000);
afterEach(async () => {
  await Promise.all(children.splice(0).map((child) => child.kill()));
  await Promise.all(leaderships.splice(0).map((leadership) => leadership.close()));
  await stores.closeAll();
});
afterAll(() => cluster.stop());

/** A candidate in this process; `lost` collects what its onLost heard. */
function candidate(
  prefix: string,
  candidateId: string,
  options: Partial<CampaignOptions> = {},
): Leadership & { readonly lost: string[] } {
  const lost: string[] = [];
  const leadership = campaign({
    endpoints: cluster.endpoints,
    fleet: FLEET,
    candidateId,
    prefix,
    ttlSeconds: TTL,
    dialTimeoutMs: 2000,
    onLost: (why) => lost.push(why),
    ...options,
  });
  leaderships.push(leadership);
  return Object.assign(leadership, { lost });
}

function child(prefix: string, candidateId: string): CandidateProcess {
  expect(existsSync(BUILT), "the candidate runs the built package: run `npx tsc -b` first").toBe(true);
  const started = new CandidateProcess(cluster.endpoints, prefix, FLEET, candidateId, TTL);
  children.push(started);
  return started;
}

/** A store whose every write is fenced by `leadership`, as a manager's is. */
async function fencedStore(prefix: string, leadership: Leadership) {
  const store = stores.open({ endpoints: cluster.endpoints, prefix, guard: () => leadership.guard() });
  await store.load(FLEET);
  return store;
}

async function instanceIds(prefix: string): Promise<string[]> {
  const state = await stores.open({ endpoints: cluster.endpoints, prefix }).load(FLEET);
  return state.instances.map((instance) => instance.id);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Lets a standby finish its campaign's first round trips, so it is waiting on the leader's key. */
const STANDBY_SETTLES_MS = 300;

describe("leadership on etcd", () => {
  it("two candidates: exactly one is elected; its guarded write lands, the standby's is refused", async () => {
    const prefix = freshPrefix();
    const a = candidate(prefix, "a");
    const b = candidate(prefix, "b");
    const leader = await Promise.race([a.elected.then(() => a), b.elected.then(() => b)]);
    const standby = leader === a ? b : a;
    await sleep(STANDBY_SETTLES_MS);
    expect([leader.leading, standby.leading]).toEqual([true, false]);
    expect(leader.guard().key).toMatch(new RegExp(`^${electionPrefix(prefix, FLEET)}\\d+$`));
    expect(standby.guard()).toEqual({ key: electionPrefix(prefix, FLEET), createRevision: "-1" });

    const leaderStore = await fencedStore(prefix, leader);
    leaderStore.putInstance(FLEET, record("web-0"));
    await leaderStore.flush();
    expect(stores.errors).toEqual([]);
    const standbyStore = await fencedStore(prefix, standby);
    standbyStore.putInstance(FLEET, record("web-1"));
    await standbyStore.flush();
    expect(stores.errors.map((error) => error.code)).toEqual(["FROCTAL_E_CLOSED"]);
    expect(await instanceIds(prefix)).toEqual(["web-0"]);
    expect([a.lost, b.lost]).toEqual([[], []]);
  }, 15_000);

  it("the leader resigns: the standby is elected within 2 s, and the old leader's guarded writes are refused", async () => {
    const prefix = freshPrefix();
    const a = candidate(prefix, "a");
    await a.elected;
    const b = candidate(prefix, "b");
    const oldStore = await fencedStore(prefix, a);
    await sleep(STANDBY_SETTLES_MS);
    expect(b.leading).toBe(false);

    const start = performance.now();
    await a.resign();
    await b.elected;
    const handover = performance.now() - start;
    console.log(`clean handover: ${handover.toFixed(0)} ms`);
    expect(handover).toBeLessThan(2000);
    expect([a.leading, b.leading]).toEqual([false, true]);

    oldStore.putInstance(FLEET, record("web-old"));
    await oldStore.flush();
    expect(stores.errors.map((error) => error.code)).toEqual(["FROCTAL_E_CLOSED"]);
    expect(stores.errors[0]?.sentence).toBe(
      `the record of instance "web-old" in fleet "f" was not stored: the write was refused: the guard key ${a.guard().key} of revision ${a.guard().createRevision} is gone, so this writer no longer leads`,
    );
    const newStore = await fencedStore(prefix, b);
    newStore.putInstance(FLEET, record("web-new"));
    await newStore.flush();
    expect(stores.errors).toHaveLength(1);
    expect(await instanceIds(prefix)).toEqual(["web-new"]);
    // A resignation is not a loss: onLost is for leadership taken away.
    expect([a.lost, b.lost]).toEqual([[], []]);
  }, 15_000);

  it("the leader's process is killed (SIGKILL): the standby is elected within TTL + 1 s", async () => {
    const prefix = freshPrefix();
    const old = child(prefix, "old");
    expect(await old.next("elected")).toEqual({ event: "elected" });
    const b = candidate(prefix, "b");
    await sleep(STANDBY_SETTLES_MS);
    expect(b.leading).toBe(false);

    const start = performance.now();
    await old.kill();
    await b.elected;
    const failover = performance.now() - start;
    console.log(`failover after SIGKILL, TTL ${TTL} s: ${failover.toFixed(0)} ms`);
    expect(failover).toBeLessThan((TTL + 1) * 1000);
    const store = await fencedStore(prefix, b);
    store.putInstance(FLEET, record("web-new"));
    await store.flush();
    expect(stores.errors).toEqual([]);
    expect(await instanceIds(prefix)).toEqual(["web-new"]);
  }, 15_000);

  it("a leader frozen past its TTL (SIGSTOP) is replaced; resumed (SIGCONT), it knows it lost and its writes are refused", async () => {
    const prefix = freshPrefix();
    const old = child(prefix, "old");
    await old.next("elected");
    const b = candidate(prefix, "b");
    await sleep(STANDBY_SETTLES_MS);
    expect(b.leading).toBe(false);

    const start = performance.now();
    old.signal("SIGSTOP");
    await b.elected;
    const failover = performance.now() - start;
    console.log(`failover after SIGSTOP, TTL ${TTL} s: ${failover.toFixed(0)} ms`);
    expect(failover).toBeLessThan((TTL + 1) * 1000);
    const store = await fencedStore(prefix, b);
    store.putInstance(FLEET, record("web-new"));
    await store.flush();

    old.signal("SIGCONT");
    const lost = await old.next("lost");
    console.log(`the resumed leader heard: ${JSON.stringify(lost)}`);
    expect(lost).toEqual({ event: "lost", why: expect.any(String), leading: false });
    expect(lost.event === "lost" ? lost.why : "").toMatch(
      /^old no longer leads fleet "f": (its lease was last renewed \d+ ms ago \(TTL 2 s\): .+|its campaign failed \(.+\)|its leader key \/test-\d+\/leaders\/election\/f\/\d+ was deleted)$/,
    );
    old.write("web-old");
    await old.next("flushed");
    expect(old.events).toEqual([
      { event: "elected" },
      lost,
      { event: "refused", code: "FROCTAL_E_CLOSED" },
      { event: "flushed", id: "web-old" },
    ]);
    expect(stores.errors).toEqual([]);
    expect(await instanceIds(prefix)).toEqual(["web-new"]);
    expect(b.leading).toBe(true);
  }, 20_000);

  it("the leader's key deleted by hand: leading is false at once and onLost hears it once", async () => {
    const prefix = freshPrefix();
    const a = candidate(prefix, "a");
    await a.elected;
    const { key } = a.guard();
    const response = await fetch(`${cluster.endpoints[0]}/v3/kv/deleterange`, {
      method: "POST",
      body: JSON.stringify({ key: Buffer.from(key).toString("base64") }),
    });
    expect(((await response.json()) as { deleted?: string }).deleted).toBe("1");
    const end = Date.now() + 2000;
    while (a.lost.length === 0 && Date.now() < end) await sleep(10);
    expect(a.leading).toBe(false);
    expect(a.lost).toEqual([`a no longer leads fleet "f": its leader key ${key} was deleted`]);
  }, 15_000);

  it("etcd frozen under a leader: it stops leading before its lease can expire, and a successor leads once etcd is back", async () => {
    const prefix = freshPrefix();
    const a = candidate(prefix, "a");
    await a.elected;
    const member = cluster.members[0]!;
    member.freeze();
    let lostWhileFrozen: string[];
    try {
      const end = Date.now() + TTL * 1000 + 1000;
      while (a.lost.length === 0 && Date.now() < end) await sleep(10);
      lostWhileFrozen = [...a.lost];
    } finally {
      member.thaw();
    }
    expect(a.leading).toBe(false);
    expect(lostWhileFrozen).toHaveLength(1);
    const [, silentMs] = /its lease was last renewed (\d+) ms ago \(TTL 2 s\)/.exec(lostWhileFrozen[0]!) ?? [];
    // Silent for less than the TTL, counted from when the last answered keepalive was sent: etcd cannot have expired it yet.
    expect(Number(silentMs)).toBeLessThan(TTL * 1000);
    expect(lostWhileFrozen[0]).toMatch(
      /^a no longer leads fleet "f": its lease was last renewed \d+ ms ago \(TTL 2 s\): etcd may be out of reach/,
    );
    // Once etcd is back, the old leader's lease is revoked (or expires): a new candidate leads, and a's writes are refused.
    const b = candidate(prefix, "b");
    await b.elected;
    const oldStore = await fencedStore(prefix, a);
    oldStore.putInstance(FLEET, record("web-old"));
    await oldStore.flush();
    expect(stores.errors.map((error) => error.code)).toEqual(["FROCTAL_E_CLOSED"]);
    expect([a.leading, b.leading, a.lost.length, b.lost]).toEqual([false, true, 1, []]);
  }, 20_000);

  it("candidates() lists every candidate with its address, the leader first; one that resigns leaves the list", async () => {
    const prefix = freshPrefix();
    const a = candidate(prefix, "a", { address: "ws://10.0.0.1:7070/agent" });
    await a.elected;
    const b = candidate(prefix, "b", { address: "ws://10.0.0.2:7070/agent" });
    await sleep(STANDBY_SETTLES_MS); // So that b's key is older than c's.
    const c = candidate(prefix, "c");
    await sleep(STANDBY_SETTLES_MS);
    const all = [
      { candidateId: "a", address: "ws://10.0.0.1:7070/agent" },
      { candidateId: "b", address: "ws://10.0.0.2:7070/agent" },
      { candidateId: "c", address: "" },
    ];
    expect(await a.candidates()).toEqual(all);
    expect(await c.candidates()).toEqual(all);
    await a.resign();
    await b.elected;
    expect(await b.candidates()).toEqual(all.slice(1));
  }, 15_000);

  it("a standby that resigns before it leads: elected rejects with FROCTAL_E_CLOSED; the leader is untouched", async () => {
    const prefix = freshPrefix();
    const a = candidate(prefix, "a");
    await a.elected;
    const b = candidate(prefix, "b");
    await sleep(STANDBY_SETTLES_MS);
    await b.resign();
    await expect(b.elected).rejects.toMatchObject({
      code: "FROCTAL_E_CLOSED",
      sentence: "b resigned before it led",
    });
    expect([a.leading, b.leading, a.lost, b.lost]).toEqual([true, false, [], []]);
  }, 15_000);

  it("etcd unreachable at start: elected rejects with FROCTAL_E_TRANSPORT naming the endpoint, within the deadline", async () => {
    const nowhere = "http://127.0.0.1:1"; // Nothing listens on port 1: refused at once.
    const start = performance.now();
    const lonely = candidate(freshPrefix(), "a", { endpoints: [nowhere], dialTimeoutMs: 1000 });
    await expect(lonely.elected).rejects.toMatchObject({ code: "FROCTAL_E_TRANSPORT", retryable: true });
    await expect(lonely.elected).rejects.toThrow(`etcd at ${nowhere}`);
    expect(performance.now() - start).toBeLessThan(1500);
    expect([lonely.leading, lonely.lost]).toEqual([false, []]);
  }, 15_000);

  it("refuses a TTL that is not a whole number of seconds >= 1", () => {
    expect(() => candidate(freshPrefix(), "a", { ttlSeconds: 0.5 })).toThrow(
      "FROCTAL_E_CONFIG: the leader lease TTL 0.5 s is not a whole number of seconds >= 1",
    );
  });
});
