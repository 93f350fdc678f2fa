import { join } from "node:path";
import BetterSqlite3, { type Database } from "better-sqlite3";
import { afterEach, describe, expect, it } from "vitest";
import { removeTempDirs, tempDir, thrown } from "../test/helpers.js";
import { APPLICATION_ID, MIGRATIONS, migrate, SCHEMA_VERSION } from "./schema.js";

const open: Database[] = [];

async function scratch(): Promise<{ db: Database; path: string }> {
  const path = join(await tempDir(), "scratch.db");
  const db = new BetterSqlite3(path);
  open.push(db);
  return { db, path };
}

afterEach(async () => {
  for (const db of open.splice(0)) db.close();
  await removeTempDirs();
});

function tables(db: Database): string[] {
  return db
    .prepare<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
    .all()
    .map((row) => row.name);
}

describe("schema migrations", () => {
  it("brings an empty file to the current version, then does nothing on the next open", async () => {
    const { db, path } = await scratch();
    migrate(db, path);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION);
    expect(db.pragma("application_id", { simple: true })).toBe(APPLICATION_ID);
    expect(tables(db)).toEqual(["fleets", "generations", "host_secrets", "hosts", "instances", "ordinals"]);
    migrate(db, path);
    expect(tables(db)).toEqual(["fleets", "generations", "host_secrets", "hosts", "instances", "ordinals"]);
  });

  it("runs only the steps after the file's version", async () => {
    const { db, path } = await scratch();
    migrate(db, path, MIGRATIONS);
    migrate(db, path, [...MIGRATIONS, "CREATE TABLE later (x INTEGER) STRICT;"]);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(tables(db)).toEqual(["fleets", "generations", "host_secrets", "hosts", "instances", "later", "ordinals"]);
  });

  it("gives every fleet of a version-1 file its own id, and keeps its records", async () => {
    const { db, path } = await scratch();
    expect(migrate(db, path, MIGRATIONS.slice(0, 1))).toBe(true);
    db.exec(`INSERT INTO generations VALUES ('f', 1000), ('g', 2000);
      INSERT INTO instances VALUES ('f', 'web-1', 'web', 1, 'tok', 'ready', 3, '{}'), ('h', 'lb-1', 'lb', 1, 't', 'starting', 0, '');`);
    const before = db.prepare("SELECT * FROM instances ORDER BY fleet").all();
    expect(migrate(db, path, MIGRATIONS.slice(0, 2))).toBe(true);
    expect(db.pragma("user_version", { simple: true })).toBe(2);
    const ids = db.prepare<{ fleet: string; id: string }>("SELECT fleet, id FROM fleets ORDER BY fleet").all();
    expect(ids.map((row) => row.fleet)).toEqual(["f", "g", "h"]);
    for (const { id } of ids) expect(id).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(ids.map((row) => row.id)).size).toBe(3);
    expect(db.prepare("SELECT * FROM instances ORDER BY fleet").all()).toEqual(before);
    expect(db.prepare("SELECT * FROM generations ORDER BY fleet").all()).toEqual([
      { fleet: "f", reserved: 1000 },
      { fleet: "g", reserved: 2000 },
    ]);
    expect(migrate(db, path, MIGRATIONS.slice(0, 2))).toBe(false);
  });

  it("gives every fleet of a version-2 file its own host secret and no hosts", async () => {
    const { db, path } = await scratch();
    migrate(db, path, MIGRATIONS.slice(0, 2));
    db.exec(`INSERT INTO fleets VALUES ('f', '${"a".repeat(32)}'), ('g', '${"b".repeat(32)}');`);
    expect(migrate(db, path, MIGRATIONS.slice(0, 3))).toBe(true);
    expect(db.pragma("user_version", { simple: true })).toBe(3);
    const secrets = db.prepare<{ fleet: string; secret: string }>("SELECT * FROM host_secrets ORDER BY fleet").all();
    expect(secrets.map((row) => row.fleet)).toEqual(["f", "g"]);
    for (const { secret } of secrets) expect(secret).toMatch(/^[0-9a-f]{64}$/);
    expect(secrets[0]!.secret).not.toBe(secrets[1]!.secret);
    expect(db.prepare("SELECT * FROM hosts").all()).toEqual([]);
  });

  it("marks, for every fleet of a version-3 file, the highest ordinal of its records as the last handed out", async () => {
    const { db, path } = await scratch();
    migrate(db, path, MIGRATIONS.slice(0, 3));
    db.exec(`INSERT INTO generations VALUES ('f', 1000), ('e', 5);
      INSERT INTO instances VALUES
        ('f', 'web-2', 'web', 2, 't', 'ready', 3, '{}'), ('f', 'lb-9', 'lb', 9, 't', 'ready', 3, '{}'),
        ('f', 'web-4', 'web', 4, 't', 'draining', 3, '{}'), ('g', 'web-0', 'web', 0, 't', 'starting', 0, ''),
        ('h', 'odd', 'web', -3, 't', 'starting', 0, '');`);
    const before = db.prepare("SELECT * FROM instances ORDER BY fleet, id").all();
    expect(migrate(db, path)).toBe(true);
    expect(db.pragma("user_version", { simple: true })).toBe(4);
    // A fleet with no records (e) gets no row: its mark reads as 0, as a new fleet's does.
    expect(db.prepare("SELECT * FROM ordinals ORDER BY fleet").all()).toEqual([
      { fleet: "f", last: 9 },
      { fleet: "g", last: 0 },
      { fleet: "h", last: 0 },
    ]);
    expect(db.prepare("SELECT * FROM instances ORDER BY fleet, id").all()).toEqual(before);
    expect(migrate(db, path)).toBe(false);
  });

  it("refuses an ordinal mark that is not a whole number JavaScript reads back exactly", async () => {
    const { db, path } = await scratch();
    migrate(db, path);
    const put = db.prepare("INSERT INTO ordinals VALUES (?, ?)");
    for (const last of [-1, 1.5, 2 ** 53]) expect(() => put.run("f", last)).toThrow(/constraint failed|cannot store/);
    put.run("f", 2 ** 53 - 1);
  });

  it("refuses a fleet id that is not 32 lowercase hex digits", async () => {
    const { db, path } = await scratch();
    migrate(db, path);
    const put = db.prepare("INSERT INTO fleets VALUES (?, ?)");
    for (const id of ["", "ABCDEF0123456789ABCDEF0123456789", "0123456789abcdef0123456789abcdeg", "0123"]) {
      expect(() => put.run("f", id)).toThrow(/CHECK constraint failed/);
    }
    put.run("f", "0123456789abcdef0123456789abcdef");
  });

  it("leaves the file at its old version when a step fails", async () => {
    const { db, path } = await scratch();
    const steps = ["CREATE TABLE a (x INTEGER);", "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1);"];
    expect(() => migrate(db, path, steps)).toThrow(/no such table: nowhere/);
    expect(db.pragma("user_version", { simple: true })).toBe(0);
    expect(db.pragma("application_id", { simple: true })).toBe(0);
    expect(tables(db)).toEqual([]);
  });

  it("refuses a newer version with FROCTAL_E_CONFIG", async () => {
    const { db, path } = await scratch();
    db.pragma(`user_version = ${SCHEMA_VERSION + 3}`);
    const error = thrown(() => migrate(db, path));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toContain(`${path} has schema version ${SCHEMA_VERSION + 3}`);
  });
});
