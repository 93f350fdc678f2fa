import { closeSync, fchmodSync, fstatSync, mkdirSync, openSync } from "node:fs";
import { join } from "node:path";
import { FroctalError } from "@froctal/protocol";
import BetterSqlite3, { type Database } from "better-sqlite3";
import { checkCompatible, MIGRATIONS, migrate } from "./schema.js";

/** The database's name inside the manager's state directory. */
export const STATE_FILE_NAME = "froctal.db";

/**
 * How long a statement waits for another connection's lock before it fails with
 * SQLITE_BUSY. Only another process on the same file (a second manager, an
 * operator's sqlite3 shell) ever holds one; a manager stalled longer than this
 * should hear about it rather than hang.
 */
const BUSY_TIMEOUT_MS = 5000;

/**
 * Opens (creating if needed) `dir/<name>` (the manager's `froctal.db`, a host's
 * `host.db`): the directory with mode 0700, the file with mode 0600, because
 * it holds every instance's token. The WAL and
 * shared-memory files SQLite creates beside it take the database file's mode.
 * Returns the database configured and migrated to the current schema; anything
 * that stops that is FROCTAL_E_CONFIG naming the path.
 */
export function openDatabaseFile(
  dir: string,
  name: string = STATE_FILE_NAME,
  migrations: readonly string[] = MIGRATIONS,
): { readonly db: Database; readonly path: string } {
  const path = join(dir, name);
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    createPrivateFile(path);
  } catch (cause) {
    const sentence = `the state file ${path} cannot be created or opened (${reasonOf(cause)})`;
    throw new FroctalError("FROCTAL_E_CONFIG", sentence, { cause });
  }
  let db: Database | undefined;
  try {
    db = new BetterSqlite3(path, { fileMustExist: true, timeout: BUSY_TIMEOUT_MS });
    // Refuse a foreign or newer file before the journal mode changes a byte of it.
    checkCompatible(db, path, migrations.length);
    configure(db, path);
    // A migration may have given fleets their ids: durable before anything is launched under them.
    if (migrate(db, path, migrations)) db.pragma("wal_checkpoint(FULL)");
    return { db, path };
  } catch (cause) {
    db?.close();
    if (cause instanceof FroctalError) throw cause;
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `the state file ${path} is not a readable froctal database (${reasonOf(cause)}); move it aside or restore a backup`,
      { cause },
    );
  }
}

/** Creates the file owner-only before SQLite sees it, and tightens an existing one (umask or a copy may have widened it). */
function createPrivateFile(path: string): void {
  const fd = openSync(path, "a", 0o600);
  try {
    if (!fstatSync(fd).isFile()) throw new Error("not a regular file");
    fchmodSync(fd, 0o600);
  } finally {
    closeSync(fd);
  }
}

function configure(db: Database, path: string): void {
  // WAL: a write appends to the log and commits without rewriting the database,
  // and a process killed mid-write leaves the log to be replayed or ignored whole.
  const mode = db.pragma("journal_mode = WAL", { simple: true });
  if (mode !== "wal") {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `the state file ${path} cannot use SQLite's WAL journal (it stays in ${String(mode)} mode); put it on a local file system`,
    );
  }
  // NORMAL, not FULL: in WAL mode a commit is then atomic and survives the
  // manager being killed (it is in the OS's page cache), but is fsynced only at
  // a checkpoint, so a power cut may lose the last commits, never half of one.
  // FULL would fsync on every write, and writes are issued from inside ticks,
  // which must not wait on the disk. flush() is the durability point: it
  // checkpoints, which syncs the log and the database.
  db.pragma("synchronous = NORMAL");
}

function reasonOf(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}
