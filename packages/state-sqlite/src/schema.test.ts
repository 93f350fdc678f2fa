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
    expect(tables(db)).toEqual(["generations", "instances"]);
    migrate(db, path);
    expect(tables(db)).toEqual(["generations", "instances"]);
  });

  it("runs only the steps after the file's version", async () => {
    const { db, path } = await scratch();
    migrate(db, path, MIGRATIONS);
    migrate(db, path, [...MIGRATIONS, "CREATE TABLE later (x INTEGER) STRICT;"]);
    expect(db.pragma("user_version", { simple: true })).toBe(SCHEMA_VERSION + 1);
    expect(tables(db)).toEqual(["generations", "instances", "later"]);
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
