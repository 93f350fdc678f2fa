import { FroctalError } from "@froctal/protocol";
import type { Database } from "better-sqlite3";

/**
 * The tables, one migration per schema version. MIGRATIONS[v] takes a file
 * from version v to v + 1 (PRAGMA user_version); only ever append to it, and
 * never edit a step that has shipped: files in the field are at every version.
 *
 * STRICT tables make SQLite refuse a value of the wrong type (an ordinal of 1.5)
 * instead of storing it; the CHECKs keep numbers where a JS number reads back exactly.
 *
 * Version 2 gives each fleet an id (128 random bits, 32 lowercase hex digits):
 * what froctal launches carries it, and only what carries it is ever stopped.
 * A fleet already in the file gets its id here (SQLite's randomblob, seeded
 * from the OS), a new one at its first load (sqlite-state.ts).
 *
 * Version 3 gives each fleet a host secret (256 random bits, 64 hex digits),
 * from which each host's credential is derived, and keeps the ids of the hosts
 * that ever joined the fleet: a restarted manager waits for them before it
 * decides which guests are gone.
 *
 * Version 4 keeps the highest instance ordinal each fleet ever handed out, so
 * a restart never gives a new guest the id of an earlier one whose record was
 * deleted when it stopped. A fleet already in the file starts at the highest
 * ordinal of its records (what it had handed out before is lost with them).
 */
export const MIGRATIONS: readonly string[] = [
  `CREATE TABLE generations (
     fleet TEXT PRIMARY KEY,
     reserved INTEGER NOT NULL CHECK (reserved BETWEEN 0 AND 9007199254740991)
   ) STRICT;
   CREATE TABLE instances (
     fleet TEXT NOT NULL,
     id TEXT NOT NULL,
     service TEXT NOT NULL,
     ordinal INTEGER NOT NULL CHECK (ordinal BETWEEN -9007199254740991 AND 9007199254740991),
     token TEXT NOT NULL,
     phase TEXT NOT NULL,
     generation INTEGER NOT NULL CHECK (generation BETWEEN 0 AND 9007199254740991),
     config_json TEXT NOT NULL,
     PRIMARY KEY (fleet, id)
   ) STRICT, WITHOUT ROWID;`,
  `CREATE TABLE fleets (
     fleet TEXT PRIMARY KEY,
     id TEXT NOT NULL UNIQUE CHECK (length(id) = 32 AND id NOT GLOB '*[^0-9a-f]*')
   ) STRICT;
   INSERT INTO fleets (fleet, id)
     SELECT fleet, lower(hex(randomblob(16))) FROM (SELECT fleet FROM generations UNION SELECT fleet FROM instances);`,
  `CREATE TABLE host_secrets (
     fleet TEXT PRIMARY KEY,
     secret TEXT NOT NULL CHECK (length(secret) = 64 AND secret NOT GLOB '*[^0-9a-f]*')
   ) STRICT;
   INSERT INTO host_secrets (fleet, secret) SELECT fleet, lower(hex(randomblob(32))) FROM fleets;
   CREATE TABLE hosts (
     fleet TEXT NOT NULL,
     id TEXT NOT NULL,
     PRIMARY KEY (fleet, id)
   ) STRICT, WITHOUT ROWID;`,
  `CREATE TABLE ordinals (
     fleet TEXT PRIMARY KEY,
     last INTEGER NOT NULL CHECK (last BETWEEN 0 AND 9007199254740991)
   ) STRICT;
   INSERT INTO ordinals (fleet, last)
     SELECT fleet, max(0, max(ordinal)) FROM instances GROUP BY fleet;`,
];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** "FROC" in the header (PRAGMA application_id), so that file(1) and this code can tell the file is ours. */
export const APPLICATION_ID = 0x46524f43;

/**
 * Brings the file at `path` to the last version of `migrations`, all steps in
 * one transaction: a failure leaves the file at the version it had. The write
 * lock is taken first (BEGIN IMMEDIATE), so two managers opening one file at
 * once cannot both migrate it. A file from a newer froctal is refused untouched.
 * Returns whether it changed the file.
 */
export function migrate(db: Database, path: string, migrations: readonly string[] = MIGRATIONS): boolean {
  return db
    .transaction(() => {
      const version = checkCompatible(db, path, migrations.length);
      if (version === migrations.length) return false;
      for (const step of migrations.slice(version)) db.exec(step);
      db.pragma(`user_version = ${migrations.length}`);
      db.pragma(`application_id = ${APPLICATION_ID}`);
      return true;
    })
    .immediate();
}

/**
 * Returns the file's schema version, or throws FROCTAL_E_CONFIG if this code
 * must not touch the file: another application's, or a newer froctal's. Only
 * reads, so it can run before anything (even the journal mode) is changed.
 */
export function checkCompatible(db: Database, path: string, known: number = MIGRATIONS.length): number {
  const version = Number(db.pragma("user_version", { simple: true }));
  const applicationId = Number(db.pragma("application_id", { simple: true }));
  if (applicationId !== 0 && applicationId !== APPLICATION_ID) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${path} is an SQLite database of another application (application_id ${applicationId}), not froctal state`,
    );
  }
  if (version > known) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${path} has schema version ${version}, written by a newer froctal; this one knows up to version ${known} ` +
        "and will not open it, so as not to damage it: run the newer froctal or use another state directory",
    );
  }
  if (version === 0 && hasTables(db)) {
    throw new FroctalError("FROCTAL_E_CONFIG", `${path} holds tables that are not froctal's; refusing to add ours`);
  }
  return version;
}

function hasTables(db: Database): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' LIMIT 1").get() !== undefined;
}
