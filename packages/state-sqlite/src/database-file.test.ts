import { chmod, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import BetterSqlite3 from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { record, removeTempDirs, tempDir, thrown } from "../test/helpers.js";
import { openDatabaseFile, STATE_FILE_NAME } from "./database-file.js";
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from "./schema.js";
import { openSqliteState } from "./sqlite-state.js";

afterEach(removeTempDirs);

async function modeOf(path: string): Promise<number> {
  return (await stat(path)).mode & 0o777;
}

/** Writes a database at `path` by hand, the way another program (or a newer froctal) would. */
function craft(path: string, sql: string): void {
  const db = new BetterSqlite3(path);
  db.exec(sql);
  db.close();
}

describe("database file: where and how privately", () => {
  it("creates the directory 0700 and the file 0600, with its WAL files 0600 too", async () => {
    const dir = join(await tempDir(), "state", "nested");
    const store = openSqliteState({ dir });
    store.putInstance("f", record("web-0"));
    expect(store.path).toBe(join(dir, STATE_FILE_NAME));
    expect(await modeOf(join(dir, ".."))).toBe(0o700);
    expect(await modeOf(dir)).toBe(0o700);
    expect(await modeOf(store.path)).toBe(0o600);
    expect(await modeOf(`${store.path}-wal`)).toBe(0o600);
    expect(await modeOf(`${store.path}-shm`)).toBe(0o600);
    await store.close();
  });

  it("tightens an existing world-readable file to 0600 and keeps its content", async () => {
    const dir = await tempDir();
    const first = openSqliteState({ dir });
    first.putInstance("f", record("web-0"));
    await first.close();
    const path = join(dir, STATE_FILE_NAME);
    await chmod(path, 0o644);
    const second = openSqliteState({ dir });
    expect(await modeOf(path)).toBe(0o600);
    expect(second.load("f").instances).toEqual([record("web-0")]);
    await second.close();
  });

  it("runs in WAL mode with synchronous=NORMAL and a busy timeout", async () => {
    const { db } = openDatabaseFile(await tempDir());
    expect(db.pragma("journal_mode", { simple: true })).toBe("wal");
    expect(db.pragma("synchronous", { simple: true })).toBe(1);
    expect(db.pragma("busy_timeout", { simple: true })).toBe(5000);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
    db.close();
  });
});

describe("database file: files of earlier versions", () => {
  it("opens a file written before fleet ids: its records stay, its fleet gets an id, kept from then on", async () => {
    const dir = await tempDir();
    const path = join(dir, STATE_FILE_NAME);
    craft(
      path,
      `${MIGRATIONS[0]} PRAGMA user_version = 1; PRAGMA application_id = ${APPLICATION_ID};
       INSERT INTO generations VALUES ('f', 1000);
       INSERT INTO instances VALUES ('f', 'web-0', 'web', 0, 'token-of-web-0', 'starting', 0, '');`,
    );
    const first = openSqliteState({ dir });
    const loaded = first.load("f");
    expect(loaded.fleetId).toMatch(/^[0-9a-f]{32}$/);
    expect(loaded.hostSecret).toMatch(/^[0-9a-f]{64}$/);
    expect(loaded).toEqual({
      fleetId: loaded.fleetId,
      hostSecret: loaded.hostSecret,
      hosts: [],
      reservedGeneration: 1000,
      lastOrdinal: 0,
      instances: [record("web-0")],
    });
    await first.close();
    const second = openSqliteState({ dir });
    expect(second.load("f")).toEqual(loaded);
    await second.close();
    const db = new BetterSqlite3(path);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.prepare("SELECT fleet, id FROM fleets").all()).toEqual([{ fleet: "f", id: loaded.fleetId }]);
    db.close();
  });
});

describe("database file: files of version 3 (before the ordinal mark)", () => {
  it("opens one: each fleet's last ordinal is its records' highest, then the mark rises and survives reopen", async () => {
    const dir = await tempDir();
    const path = join(dir, STATE_FILE_NAME);
    craft(
      path,
      `${MIGRATIONS.slice(0, 3).join("\n")} PRAGMA user_version = 3; PRAGMA application_id = ${APPLICATION_ID};
       INSERT INTO fleets VALUES ('f', '${"a".repeat(32)}'), ('g', '${"b".repeat(32)}');
       INSERT INTO host_secrets VALUES ('f', '${"c".repeat(64)}'), ('g', '${"d".repeat(64)}');
       INSERT INTO generations VALUES ('f', 1000);
       INSERT INTO instances VALUES ('f', 'web-4', 'web', 4, 'token-of-web-4', 'starting', 0, ''),
         ('f', 'web-2', 'web', 2, 'token-of-web-2', 'starting', 0, '');`,
    );
    const first = openSqliteState({ dir });
    const loaded = first.load("f");
    expect(loaded).toEqual({
      fleetId: "a".repeat(32),
      hostSecret: "c".repeat(64),
      hosts: [],
      reservedGeneration: 1000,
      lastOrdinal: 4,
      instances: [record("web-2", { ordinal: 2 }), record("web-4", { ordinal: 4 })],
    });
    expect(first.load("g").lastOrdinal).toBe(0);
    first.reserveOrdinals("f", 5);
    first.deleteInstance("f", "web-4");
    await first.close();
    const second = openSqliteState({ dir });
    expect(second.load("f")).toEqual({ ...loaded, lastOrdinal: 5, instances: [record("web-2", { ordinal: 2 })] });
    await second.close();
    const db = new BetterSqlite3(path);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    db.close();
  });
});

describe("database file: what it refuses", () => {
  it("refuses a file from a newer schema version with FROCTAL_E_CONFIG, and leaves it as it was", async () => {
    const dir = await tempDir();
    const path = join(dir, STATE_FILE_NAME);
    // Not in WAL mode: switching a file to WAL rewrites its header, which must not happen before the refusal.
    craft(path, `CREATE TABLE future (x TEXT); PRAGMA user_version = ${SCHEMA_VERSION + 1};`);
    const before = await readFile(path);
    const error = thrown(() => openSqliteState({ dir }));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toContain(path);
    expect(error.sentence).toContain(`schema version ${SCHEMA_VERSION + 1}, written by a newer froctal`);
    expect(await readFile(path)).toEqual(before);
  });

  it.each([
    ["random bytes", Buffer.from(Array.from({ length: 8192 }, (_, i) => (i * 7919 + 13) % 256))],
    ["a short text", Buffer.from("not a database\n")],
    ["a truncated header", Buffer.from("SQLite format 3\u0000\u0010")],
  ])("refuses a file holding %s with FROCTAL_E_CONFIG naming its path", async (_, bytes) => {
    const dir = await tempDir();
    const path = join(dir, STATE_FILE_NAME);
    await writeFile(path, bytes);
    const error = thrown(() => openSqliteState({ dir }));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toContain(`the state file ${path} is not a readable froctal database`);
    expect(await readFile(path)).toEqual(bytes);
  });

  it("refuses another application's SQLite database", async () => {
    const dir = await tempDir();
    craft(join(dir, STATE_FILE_NAME), "CREATE TABLE notes (body TEXT);");
    expect(thrown(() => openSqliteState({ dir })).sentence).toContain("holds tables that are not froctal's");
    craft(join(dir, STATE_FILE_NAME), "PRAGMA application_id = 1234;");
    expect(thrown(() => openSqliteState({ dir })).sentence).toContain("another application (application_id 1234)");
  });

  it("refuses a state path it cannot create the file at", async () => {
    const dir = await tempDir();
    await mkdir(join(dir, STATE_FILE_NAME));
    const error = thrown(() => openSqliteState({ dir }));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toContain(`the state file ${join(dir, STATE_FILE_NAME)} cannot be created or opened`);
    await writeFile(join(dir, "file"), "");
    expect(thrown(() => openSqliteState({ dir: join(dir, "file") })).code).toBe("FROCTAL_E_CONFIG");
  });
});
