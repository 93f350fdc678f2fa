import { createServer } from "node:net";
import type { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { freshPrefix, oneMember, record } from "../test/helpers.js";
import { openEtcdState } from "./etcd-state.js";

const member = oneMember();
const { stores } = member;

async function rejection(promise: Promise<unknown>): Promise<FroctalError> {
  return (await promise.then(
    () => expect.fail("it resolved"),
    (error: unknown) => error,
  )) as FroctalError;
}

/** A fleet with one good record and a meta, whose key `key` (under the fleet) is then overwritten with `value`. */
async function corrupted(key: string, value: string): Promise<{ prefix: string; sentence: string }> {
  const prefix = freshPrefix();
  const store = stores.open({ endpoints: member.cluster.endpoints, prefix });
  await store.load("f");
  store.putInstance("f", record("web-0"));
  store.reserveGenerations("f", 10);
  await store.flush();
  await member.raw.put(`${prefix}fleets/f/${key}`).value(value);
  const error = await rejection(stores.open({ endpoints: member.cluster.endpoints, prefix }).load("f"));
  expect(error.code).toBe("FROCTAL_E_CONFIG");
  return { prefix, sentence: error.sentence };
}

describe("etcd state: corrupt or foreign data is refused, naming the key", () => {
  it.each([
    ["meta", "not json", "is not JSON"],
    ["meta", '{"format":2,"fleetId":"0","hostSecret":"0"}', "has format version 2; this froctal reads 1"],
    ["meta", '{"format":1,"fleetId":"XYZ","hostSecret":"0"}', "has no fleet id of 32 lowercase hex digits"],
    ["instances/web-0", "[1,2]", "is not a JSON object"],
    ["instances/web-0", '{"id":"web-9"}', 'holds the record of "web-9", not of "web-0"'],
    ["instances/web-0", JSON.stringify({ ...record("web-0"), ordinal: 1.5 }), "has no ordinal that is a whole number"],
    ["instances/web-0", JSON.stringify({ ...record("web-0"), token: 7 }), "has no string token"],
    ["instances/%zz", "{}", "names no id froctal would write"],
    ["generation", "12abc", 'holds "12abc", not a whole number'],
    ["generation", "-3", 'holds "-3", not a whole number'],
    ["ordinal", "7.5", 'holds "7.5", not a whole number'],
    ["ordinal", "", 'holds "", not a whole number'],
    ["leader", "someone", "is no key froctal writes (foreign data under the fleet's prefix)"],
  ])("%s = %s", async (key, value, why) => {
    const { prefix, sentence } = await corrupted(key, value);
    expect(sentence).toBe(`the fleet's state in etcd is refused: key ${prefix}fleets/f/${key} ${why}`);
  });

  it("gives a fleet whose records were written before any load an id, and keeps the records", async () => {
    const prefix = freshPrefix();
    await member.raw.put(`${prefix}fleets/f/instances/web-0`).value(JSON.stringify(record("web-0")));
    // Writes may come before the first load (as with SQLite): the load claims the meta in the same transaction it reads in.
    const first = await stores.open({ endpoints: member.cluster.endpoints, prefix }).load("f");
    expect(first.instances).toEqual([record("web-0")]);
  });
});

describe("etcd state: bad calls", () => {
  it("says which endpoints are unreachable, within dialTimeoutMs", async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const endpoints = [`http://127.0.0.1:${port}`, "http://127.0.0.1:9"];
    const store = openEtcdState({ endpoints, dialTimeoutMs: 800 });
    const start = Date.now();
    const error = await rejection(store.load("f"));
    const took = Date.now() - start;
    await store.close();
    expect(error.code).toBe("FROCTAL_E_TRANSPORT");
    expect(error.retryable).toBe(true);
    expect(error.sentence).toMatch(
      new RegExp(
        `^the state of fleet "f" could not be read: etcd at ${endpoints.join(",")} (is unreachable|did not answer within 800 ms)`,
      ),
    );
    expect(took).toBeGreaterThanOrEqual(500);
    expect(took).toBeLessThan(1300);
  });

  it("refuses a record load would refuse through onError, without sending it, and carries on", async () => {
    const prefix = freshPrefix();
    const store = stores.open({ endpoints: member.cluster.endpoints, prefix });
    store.putInstance("f", record("web-0", { ordinal: 1.5 }));
    store.reserveGenerations("f", -1);
    store.putInstance("f", record("web-1"));
    expect(stores.errors.map((error) => error.code)).toEqual(["FROCTAL_E_INTERNAL", "FROCTAL_E_INTERNAL"]);
    expect(stores.errors[0]?.sentence).toBe(
      `the record of instance "web-0" in fleet "f" was not stored: FROCTAL_E_CONFIG: the fleet's state in etcd is refused: key ${prefix}fleets/f/instances/web-0 has no ordinal that is a whole number`,
    );
    const loaded = await store.load("f");
    expect([loaded.instances, loaded.reservedGeneration]).toEqual([[record("web-1")], 0]);
  });

  it("refuses an ordinal mark load would refuse through onError, without sending it, and carries on", async () => {
    const prefix = freshPrefix();
    const store = stores.open({ endpoints: member.cluster.endpoints, prefix });
    store.reserveOrdinals("f", -1);
    store.reserveOrdinals("f", 2.5);
    store.reserveOrdinals("f", 3);
    expect(stores.errors.map((error) => error.sentence)).toEqual([
      `the mark of ordinals up to -1 for fleet "f" was not stored: FROCTAL_E_CONFIG: the fleet's state in etcd is refused: key ${prefix}fleets/f/ordinal holds "-1", not a whole number`,
      `the mark of ordinals up to 2.5 for fleet "f" was not stored: FROCTAL_E_CONFIG: the fleet's state in etcd is refused: key ${prefix}fleets/f/ordinal holds "2.5", not a whole number`,
    ]);
    expect((await store.load("f")).lastOrdinal).toBe(3);
  });

  it("refuses every call after close() with FROCTAL_E_CLOSED; a second close() does nothing", async () => {
    const store = stores.open({ endpoints: member.cluster.endpoints, prefix: freshPrefix() });
    await store.close();
    await store.close();
    await expect(store.load("f")).rejects.toMatchObject({ code: "FROCTAL_E_CLOSED" });
    expect(() => store.reserveGenerations("f", 1)).toThrow(/^FROCTAL_E_CLOSED: reserveGenerations\(\)/);
    expect(() => store.reserveOrdinals("f", 1)).toThrow(/^FROCTAL_E_CLOSED: reserveOrdinals\(\)/);
    expect(() => store.putInstance("f", record("web-0"))).toThrow(/^FROCTAL_E_CLOSED: putInstance\(\)/);
    expect(() => store.deleteInstance("f", "web-0")).toThrow(/^FROCTAL_E_CLOSED: deleteInstance\(\)/);
    expect(() => store.putHost("f", "h")).toThrow(/^FROCTAL_E_CLOSED: putHost\(\)/);
    await expect(store.flush()).rejects.toMatchObject({ code: "FROCTAL_E_CLOSED" });
    expect(stores.errors).toEqual([]);
  });

  it("refuses bad options with FROCTAL_E_CONFIG", () => {
    expect(() => openEtcdState({ endpoints: [] })).toThrow("FROCTAL_E_CONFIG: no etcd endpoint was given");
    expect(() => openEtcdState({ endpoints: member.cluster.endpoints, prefix: "/froctal" })).toThrow(
      'FROCTAL_E_CONFIG: the etcd key prefix "/froctal" does not end with "/"',
    );
    expect(() => openEtcdState({ endpoints: member.cluster.endpoints, dialTimeoutMs: 0 })).toThrow(/^FROCTAL_E_CONFIG/);
  });
});

describe("etcd state: guarded writes (fencing)", () => {
  it("lands writes while the guard key keeps its create revision, refuses them with FROCTAL_E_CLOSED after", async () => {
    const prefix = freshPrefix();
    const guardKey = `${prefix}leader`;
    await member.raw.put(guardKey).value("me");
    const createRevision = (await member.raw.get(guardKey).exec()).kvs[0]?.create_revision ?? "none";
    const store = stores.open({
      endpoints: member.cluster.endpoints,
      prefix,
      guard: () => ({ key: guardKey, createRevision }),
    });
    store.putInstance("f", record("web-0"));
    store.reserveGenerations("f", 10);
    await store.flush();
    expect(stores.errors).toEqual([]);
    // A successor: the key is gone, then made again (a new create revision).
    await member.raw.delete().key(guardKey);
    store.putInstance("f", record("web-1"));
    await store.flush();
    await member.raw.put(guardKey).value("successor");
    store.reserveGenerations("f", 20);
    await store.flush();
    expect(stores.errors.map((error) => error.code)).toEqual(["FROCTAL_E_CLOSED", "FROCTAL_E_CLOSED"]);
    expect(stores.errors[0]?.sentence).toBe(
      `the record of instance "web-1" in fleet "f" was not stored: the write was refused: the guard key ${guardKey} of revision ${createRevision} is gone, so this writer no longer leads`,
    );
    expect(stores.errors[1]?.sentence).toMatch(
      /of revision \d+ was created again at revision \d+, so this writer no longer leads$/,
    );
    const loaded = await stores.open({ endpoints: member.cluster.endpoints, prefix }).load("f");
    expect([loaded.instances, loaded.reservedGeneration]).toEqual([[record("web-0")], 10]);
  });
});
