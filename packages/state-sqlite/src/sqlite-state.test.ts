import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import type { FroctalError } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { contentOf, record, removeTempDirs, tempDir, thrown } from "../test/helpers.js";
import { STATE_FILE_NAME } from "./database-file.js";
import { openSqliteState, type SqliteState, type SqliteStateOptions } from "./sqlite-state.js";

const open: SqliteState[] = [];

function openStore(options: SqliteStateOptions): SqliteState {
  const store = openSqliteState(options);
  open.push(store);
  return store;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((store) => store.close()));
  await removeTempDirs();
});

describe("sqlite state: what it keeps", () => {
  it("reads back what was written, every field", async () => {
    const store = openStore({ dir: await tempDir() });
    const a = record("web-0", { ordinal: 0, token: "t0k3n", phase: "ready", generation: 7, configJson: '{"a":1}' });
    const b = record("web-1", { ordinal: 1, configJson: "ünï\u0000côdé" });
    store.reserveGenerations("f", 100);
    store.putInstance("f", b);
    store.putInstance("f", a);
    expect(contentOf(store.load("f"))).toEqual({ reservedGeneration: 100, lastOrdinal: 0, instances: [a, b] });
  });

  it("starts empty: generation 0, no instances", async () => {
    const store = openStore({ dir: await tempDir() });
    expect(contentOf(store.load("f"))).toEqual({ reservedGeneration: 0, lastOrdinal: 0, instances: [] });
  });

  it("keeps everything across close and reopen", async () => {
    const dir = await tempDir();
    const first = openSqliteState({ dir });
    first.reserveGenerations("f", 64);
    first.putInstance("f", record("web-0", { generation: 3 }));
    first.putInstance("g", record("lb-0", { service: "lb" }));
    await first.close();
    const second = openStore({ dir });
    expect(contentOf(second.load("f"))).toEqual({
      reservedGeneration: 64,
      lastOrdinal: 0,
      instances: [record("web-0", { generation: 3 })],
    });
    expect(second.load("g").instances).toEqual([record("lb-0", { service: "lb" })]);
  });

  it("replaces an instance's record with a later put", async () => {
    const store = openStore({ dir: await tempDir() });
    store.putInstance("f", record("web-0", { phase: "starting" }));
    store.putInstance("f", record("web-0", { phase: "draining", generation: 2, configJson: "{}" }));
    expect(store.load("f").instances).toEqual([
      record("web-0", { phase: "draining", generation: 2, configJson: "{}" }),
    ]);
  });

  it("only ever raises the reserved generation", async () => {
    const store = openStore({ dir: await tempDir() });
    store.reserveGenerations("f", 50);
    store.reserveGenerations("f", 10);
    store.reserveGenerations("f", 0);
    expect(store.load("f").reservedGeneration).toBe(50);
    store.reserveGenerations("f", 51);
    expect(store.load("f").reservedGeneration).toBe(51);
  });

  it("keeps the last ordinal handed out per fleet, only ever raised, across close and reopen", async () => {
    const dir = await tempDir();
    const first = openSqliteState({ dir });
    expect(first.load("f").lastOrdinal).toBe(0);
    first.reserveOrdinals("f", 5);
    first.reserveOrdinals("f", 3);
    first.reserveOrdinals("f", 0);
    first.reserveOrdinals("g", 2);
    expect(first.load("f").lastOrdinal).toBe(5);
    first.reserveOrdinals("f", 6);
    await first.close();
    const second = openStore({ dir });
    expect(contentOf(second.load("f"))).toEqual({ reservedGeneration: 0, lastOrdinal: 6, instances: [] });
    expect(second.load("g").lastOrdinal).toBe(2);
    expect(second.load("h").lastOrdinal).toBe(0);
    expect(thrown(() => second.reserveOrdinals("f", -1)).sentence).toMatch(
      /^the mark of ordinals up to -1 for fleet "f" was not stored in .*froctal\.db/,
    );
    expect(thrown(() => second.reserveOrdinals("f", 1.5)).code).toBe("FROCTAL_E_INTERNAL");
    expect(second.load("f").lastOrdinal).toBe(6);
  });

  it("gives a fleet its id at its first load, and the same id at every load after, across reopen", async () => {
    const dir = await tempDir();
    const first = openSqliteState({ dir });
    const id = first.load("f").fleetId;
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(first.load("f").fleetId).toBe(id);
    const other = first.load("g").fleetId;
    expect(other).toMatch(/^[0-9a-f]{32}$/);
    expect(other).not.toBe(id);
    await first.close();
    const second = openStore({ dir });
    expect(second.load("f").fleetId).toBe(id);
    expect(second.load("g").fleetId).toBe(other);
  });

  it("makes a new fleet's id durable before load returns: it is in the database file, not only its WAL", async () => {
    const dir = await tempDir();
    const copy = await tempDir();
    const store = openStore({ dir });
    const id = store.load("f").fleetId;
    await copyFile(join(dir, STATE_FILE_NAME), join(copy, STATE_FILE_NAME));
    expect(openStore({ dir: copy }).load("f").fleetId).toBe(id);
  });

  it("keeps fleets apart, even for the same instance id", async () => {
    const store = openStore({ dir: await tempDir() });
    store.reserveGenerations("f", 10);
    store.reserveGenerations("g", 99);
    store.putInstance("f", record("web-0", { token: "f-token" }));
    store.putInstance("g", record("web-0", { token: "g-token" }));
    store.deleteInstance("g", "web-0");
    expect(contentOf(store.load("f"))).toEqual({
      reservedGeneration: 10,
      lastOrdinal: 0,
      instances: [record("web-0", { token: "f-token" })],
    });
    expect(contentOf(store.load("g"))).toEqual({ reservedGeneration: 99, lastOrdinal: 0, instances: [] });
    expect(contentOf(store.load("h"))).toEqual({ reservedGeneration: 0, lastOrdinal: 0, instances: [] });
  });

  it("keeps a fleet's host secret and the hosts that joined it across reopens, per fleet", async () => {
    const dir = await tempDir();
    const store = openStore({ dir });
    const first = store.load("f");
    expect(first.hostSecret).toMatch(/^[0-9a-f]{64}$/);
    store.putHost("f", "b");
    store.putHost("f", "a");
    store.putHost("f", "a");
    store.putHost("g", "c");
    await store.close();
    const again = openStore({ dir });
    const f = again.load("f");
    expect(f.hostSecret).toBe(first.hostSecret);
    expect(f.hosts).toEqual(["a", "b"]);
    const g = again.load("g");
    expect(g.hosts).toEqual(["c"]);
    expect(g.hostSecret).not.toBe(first.hostSecret);
  });

  it("forgets a deleted instance, and deleting an unknown one changes nothing", async () => {
    const store = openStore({ dir: await tempDir() });
    store.putInstance("f", record("web-0"));
    store.putInstance("f", record("web-1"));
    store.deleteInstance("f", "web-0");
    store.deleteInstance("f", "web-0");
    store.deleteInstance("f", "never-was");
    store.deleteInstance("nowhere", "web-1");
    expect(store.load("f").instances).toEqual([record("web-1")]);
  });

  it("flush() and close() put every write into the database file itself, not only its WAL", async () => {
    const dir = await tempDir();
    const copy = await tempDir();
    const store = openSqliteState({ dir });
    store.reserveGenerations("f", 5);
    store.putInstance("f", record("web-0"));
    await store.flush();
    await copyFile(join(dir, STATE_FILE_NAME), join(copy, STATE_FILE_NAME));
    store.putInstance("f", record("web-1"));
    await store.close();
    const flushed = openStore({ dir: copy });
    expect(contentOf(flushed.load("f"))).toEqual({
      reservedGeneration: 5,
      lastOrdinal: 0,
      instances: [record("web-0")],
    });
    await copyFile(join(dir, STATE_FILE_NAME), join(copy, STATE_FILE_NAME));
    expect(openStore({ dir: copy }).load("f").instances).toHaveLength(2);
  });
});

describe("sqlite state: failures", () => {
  it("throws a refused write out of the call by default, and carries on", async () => {
    const store = openStore({ dir: await tempDir() });
    const error = thrown(() => store.putInstance("f", record("web-0", { ordinal: 1.5 })));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    expect(error.sentence).toMatch(/instance "web-0" in fleet "f" was not stored in .*froctal\.db/);
    expect(thrown(() => store.reserveGenerations("f", -1)).code).toBe("FROCTAL_E_INTERNAL");
    expect(thrown(() => store.reserveGenerations("f", Number.NaN)).code).toBe("FROCTAL_E_INTERNAL");
    store.putInstance("f", record("web-1"));
    expect(contentOf(store.load("f"))).toEqual({ reservedGeneration: 0, lastOrdinal: 0, instances: [record("web-1")] });
  });

  it("hands a refused write to onError instead, and loses only that write", async () => {
    const errors: FroctalError[] = [];
    const store = openStore({ dir: await tempDir(), onError: (error) => errors.push(error) });
    store.putInstance("f", record("web-0", { generation: -1 }));
    store.putInstance("f", record("web-1"));
    expect(errors.map((error) => error.code)).toEqual(["FROCTAL_E_INTERNAL"]);
    expect(errors[0]?.cause).toMatchObject({ code: "SQLITE_CONSTRAINT_CHECK" });
    expect(store.load("f").instances).toEqual([record("web-1")]);
  });

  it("refuses every call after close() with FROCTAL_E_CLOSED; a second close() does nothing", async () => {
    const errors: FroctalError[] = [];
    const store = openSqliteState({ dir: await tempDir(), onError: (error) => errors.push(error) });
    await store.close();
    await store.close();
    expect(thrown(() => store.load("f")).code).toBe("FROCTAL_E_CLOSED");
    expect(thrown(() => store.reserveGenerations("f", 1)).code).toBe("FROCTAL_E_CLOSED");
    expect(thrown(() => store.reserveOrdinals("f", 1)).code).toBe("FROCTAL_E_CLOSED");
    expect(thrown(() => store.putInstance("f", record("web-0"))).code).toBe("FROCTAL_E_CLOSED");
    expect(thrown(() => store.deleteInstance("f", "web-0")).code).toBe("FROCTAL_E_CLOSED");
    await expect(store.flush()).rejects.toMatchObject({ code: "FROCTAL_E_CLOSED" });
    expect(errors).toEqual([]);
  });
});
