import { describe, expect, it } from "vitest";
import { contentOf, freshPrefix, oneMember, record } from "../test/helpers.js";
import { MAX_WRITES_PER_TXN } from "./etcd-state.js";

const member = oneMember();
const { stores } = member;

function open(prefix: string) {
  return stores.open({ endpoints: member.cluster.endpoints, prefix });
}

describe("etcd state: the fleet's id and secret", () => {
  it("gives a new fleet an id and a secret at its first load, kept for every store after", async () => {
    const prefix = freshPrefix();
    const first = open(prefix);
    expect(first.where).toBe(`etcd ${member.cluster.endpoints.join(",")} ${prefix}`);
    const loaded = await first.load("f");
    expect(contentOf(loaded)).toEqual({ hosts: [], reservedGeneration: 0, lastOrdinal: 0, instances: [] });
    await first.close();
    // Durable before load returned: it is in etcd, under the documented key, for a client that never saw the first.
    const meta = JSON.parse((await member.raw.get(`${prefix}fleets/f/meta`).string()) ?? "null");
    expect(meta).toEqual({ format: 1, fleetId: loaded.fleetId, hostSecret: loaded.hostSecret });
    expect(await open(prefix).load("f")).toEqual(loaded);
    const other = await open(prefix).load("g");
    expect(other.fleetId).not.toBe(loaded.fleetId);
    expect(other.hostSecret).not.toBe(loaded.hostSecret);
  });

  it("gives managers loading a new fleet at once one id between them", async () => {
    const prefix = freshPrefix();
    for (const fleet of ["a", "b", "c", "d", "e"]) {
      const loads = await Promise.all([open(prefix), open(prefix), open(prefix)].map((store) => store.load(fleet)));
      expect(new Set(loads.map((state) => state.fleetId)).size).toBe(1);
      expect(new Set(loads.map((state) => state.hostSecret)).size).toBe(1);
    }
  });
});

describe("etcd state: writes", () => {
  it("applies writes in order, and a fresh client sees every one after flush()", async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    store.putInstance("f", record("web-0", { phase: "starting" }));
    store.putInstance("f", record("web-1", { ordinal: 1 }));
    store.reserveGenerations("f", 64);
    store.putInstance("f", record("web-0", { phase: "ready", generation: 7, configJson: '{"a":1}' }));
    store.deleteInstance("f", "web-1");
    store.putInstance("f", record("web-2", { ordinal: 2, configJson: "ünï\u0000côdé" }));
    store.putInstance("g", record("web-0", { token: "g-token" }));
    await store.flush();
    expect(stores.errors).toEqual([]);
    expect(contentOf(await open(prefix).load("f"))).toEqual({
      hosts: [],
      reservedGeneration: 64,
      lastOrdinal: 0,
      instances: [
        record("web-0", { phase: "ready", generation: 7, configJson: '{"a":1}' }),
        record("web-2", { ordinal: 2, configJson: "ünï\u0000côdé" }),
      ],
    });
    expect((await open(prefix).load("g")).instances).toEqual([record("web-0", { token: "g-token" })]);
  });

  it(`sends more writes than one transaction takes (${MAX_WRITES_PER_TXN}) in several, the last write to a key winning`, async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    // 150 keys: the first transaction holds 127 different ones, more than one would refuse past 128.
    for (let i = 0; i < 300; i++) store.putInstance("f", record(`web-${i % 150}`, { ordinal: i }));
    for (let i = 0; i < 50; i++) store.deleteInstance("f", `web-${i}`);
    store.reserveGenerations("f", 5);
    await store.flush();
    expect(stores.errors).toEqual([]);
    const { instances, reservedGeneration } = await open(prefix).load("f");
    expect(reservedGeneration).toBe(5);
    expect(instances.map((r) => r.ordinal).sort((a, b) => a - b)).toEqual(
      Array.from({ length: 100 }, (_, i) => 200 + i),
    );
  });

  it("only ever raises the reserved generation, also against another store that raised it meanwhile", async () => {
    const prefix = freshPrefix();
    const a = open(prefix);
    const b = open(prefix);
    await a.load("f");
    await b.load("f");
    a.reserveGenerations("f", 50);
    a.reserveGenerations("f", 10);
    a.reserveGenerations("f", 0);
    await a.flush();
    expect((await open(prefix).load("f")).reservedGeneration).toBe(50);
    // b last saw the generation absent: its compare-and-swap fails, it reads 50 back and leaves it.
    b.reserveGenerations("f", 30);
    await b.flush();
    expect((await open(prefix).load("f")).reservedGeneration).toBe(50);
    b.reserveGenerations("f", 51);
    a.reserveGenerations("f", 40);
    await Promise.all([a.flush(), b.flush()]);
    expect((await open(prefix).load("f")).reservedGeneration).toBe(51);
    expect(stores.errors).toEqual([]);
  });

  it("only ever raises the last ordinal, also against another store that raised it meanwhile, and keeps it", async () => {
    const prefix = freshPrefix();
    const a = open(prefix);
    const b = open(prefix);
    expect((await a.load("f")).lastOrdinal).toBe(0);
    await b.load("f");
    a.reserveOrdinals("f", 5);
    a.reserveOrdinals("f", 3);
    a.reserveOrdinals("f", 0);
    a.reserveOrdinals("g", 2);
    await a.flush();
    expect((await open(prefix).load("f")).lastOrdinal).toBe(5);
    // Under the documented key, as a decimal whole number, beside the generation.
    expect(await member.raw.get(`${prefix}fleets/f/ordinal`).string()).toBe("5");
    // b last saw the mark absent: its compare-and-swap fails, it reads 5 back and leaves it.
    b.reserveOrdinals("f", 4);
    await b.flush();
    expect((await open(prefix).load("f")).lastOrdinal).toBe(5);
    b.reserveOrdinals("f", 6);
    a.reserveOrdinals("f", 4);
    await Promise.all([a.flush(), b.flush()]);
    await a.close();
    await b.close();
    expect(contentOf(await open(prefix).load("f"))).toEqual({
      hosts: [],
      reservedGeneration: 0,
      lastOrdinal: 6,
      instances: [],
    });
    expect((await open(prefix).load("g")).lastOrdinal).toBe(2);
    expect(stores.errors).toEqual([]);
  });

  it("lands an ordinal mark and the record it covers together, the generation kept apart", async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    await store.load("f");
    store.reserveGenerations("f", 1000);
    store.reserveOrdinals("f", 1);
    store.putInstance("f", record("web-1", { ordinal: 1 }));
    store.reserveOrdinals("f", 2);
    store.putInstance("f", record("web-2", { ordinal: 2 }));
    store.deleteInstance("f", "web-2");
    await store.flush();
    const revisionOf = async (key: string) =>
      (await member.raw.get(`${prefix}fleets/f/${key}`).exec()).kvs[0]?.mod_revision;
    // One transaction: the mark and the record share a revision.
    expect(await revisionOf("ordinal")).toBe(await revisionOf("instances/web-1"));
    expect(contentOf(await open(prefix).load("f"))).toEqual({
      hosts: [],
      reservedGeneration: 1000,
      lastOrdinal: 2,
      instances: [record("web-1", { ordinal: 1 })],
    });
    expect(stores.errors).toEqual([]);
  });

  it("forgets a deleted instance, and deleting an unknown one changes nothing", async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    store.putInstance("f", record("web-0"));
    store.putInstance("f", record("web-1"));
    store.deleteInstance("f", "web-0");
    store.deleteInstance("f", "web-0");
    store.deleteInstance("f", "never-was");
    store.deleteInstance("nowhere", "web-1");
    expect((await store.load("f")).instances).toEqual([record("web-1")]);
    expect(stores.errors).toEqual([]);
  });

  it("keeps the hosts that joined a fleet, once each, per fleet, and names with '/' apart", async () => {
    const prefix = freshPrefix();
    const store = open(prefix);
    store.putHost("f", "b");
    store.putHost("f", "a/1");
    store.putHost("f", "b");
    store.putHost("f/x", "c");
    store.putInstance("f/x", record("web-0"));
    await store.close();
    expect((await open(prefix).load("f")).hosts).toEqual(["a/1", "b"]);
    expect(contentOf(await open(prefix).load("f/x"))).toEqual({
      hosts: ["c"],
      reservedGeneration: 0,
      lastOrdinal: 0,
      instances: [record("web-0")],
    });
  });
});
