import { type Cluster, type Member, startCluster } from "@froctal/etcd-members";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { contentOf, freshPrefix, record, Stores } from "../test/helpers.js";

const clusters: Cluster[] = [];
const stores = new Stores();

afterEach(() => stores.closeAll());
afterAll(() => Promise.all(clusters.map((cluster) => cluster.stop())));

async function cluster(size: number): Promise<Cluster> {
  const started = await startCluster(size);
  clusters.push(started);
  return started;
}

/** The member raft elected, as it says itself (etcd's JSON gateway: /v3/maintenance/status). */
async function leaderOf(members: readonly Member[]): Promise<Member> {
  for (const member of members) {
    const response = await fetch(`${member.clientUrl}/v3/maintenance/status`, { method: "POST", body: "{}" });
    const status = (await response.json()) as { header: { member_id: string }; leader: string };
    if (status.header.member_id === status.leader) return member;
  }
  throw new Error("no member says it leads");
}

describe("etcd state: faults", () => {
  it("one member of three killed (the raft leader, mid-writes): no write lost, no error", async () => {
    const three = await cluster(3);
    const prefix = freshPrefix();
    const store = stores.open({ endpoints: three.endpoints, prefix, dialTimeoutMs: 5000 });
    await store.load("f");
    const leader = await leaderOf(three.members);
    for (let i = 0; i < 200; i++) {
      store.putInstance("f", record(`web-${i}`, { ordinal: i }));
      store.reserveGenerations("f", i + 1);
      if (i === 50) await leader.kill();
      if (i % 10 === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await store.flush();
    expect(stores.errors).toEqual([]);
    expect(leader.running).toBe(false);
    const fresh = stores.open({ endpoints: three.endpoints, prefix });
    expect(contentOf(await fresh.load("f"))).toEqual({
      hosts: [],
      reservedGeneration: 200,
      lastOrdinal: 0,
      instances: Array.from({ length: 200 }, (_, i) => record(`web-${i}`, { ordinal: i })).sort((a, b) =>
        a.id < b.id ? -1 : 1,
      ),
    });
  }, 30_000);

  it("a write while etcd is down reaches onError as FROCTAL_E_TRANSPORT; once it is back, writes land again", async () => {
    const one = await cluster(1);
    const [member] = one.members;
    if (member === undefined) throw new Error("no member");
    const prefix = freshPrefix();
    const store = stores.open({ endpoints: one.endpoints, prefix, dialTimeoutMs: 1000 });
    const loaded = await store.load("f");
    store.putInstance("f", record("web-0"));
    await store.flush();
    await member.kill();
    store.putInstance("f", record("web-1"));
    store.putHost("f", "h");
    await store.flush();
    expect(stores.errors.map((error) => [error.code, error.retryable])).toEqual([["FROCTAL_E_TRANSPORT", true]]);
    expect(stores.errors[0]?.sentence).toMatch(
      new RegExp(
        `^the record of instance "web-1" in fleet "f" \\(and 1 other write sent with it\\) was not stored: etcd at ${one.endpoints[0]} (is unreachable|did not answer within 1000 ms)`,
      ),
    );
    member.start();
    await one.healthy();
    store.putInstance("f", record("web-2"));
    await store.flush();
    expect(stores.errors).toHaveLength(1);
    expect(await stores.open({ endpoints: one.endpoints, prefix }).load("f")).toEqual({
      ...loaded,
      instances: [record("web-0"), record("web-2")],
    });
  }, 30_000);
});
