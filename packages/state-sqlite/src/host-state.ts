/**
 * A host daemon's own state (`froctal host`): the guests it launched and
 * still answers for, one opaque record each (the process driver's KeptGuest as
 * JSON), in `<dir>/host.db`. A file of its own, with its own migrations, so a
 * host's state and a manager's never mix even in one directory.
 */
import type { Database, Statement } from "better-sqlite3";
import { openDatabaseFile } from "./database-file.js";
import { sqliteFailure } from "./errors.js";

export const HOST_STATE_FILE_NAME = "host.db";

const HOST_MIGRATIONS: readonly string[] = [
  `CREATE TABLE guests (
     id TEXT PRIMARY KEY,
     record TEXT NOT NULL
   ) STRICT, WITHOUT ROWID;`,
];

export interface HostState {
  readonly path: string;
  /** Every guest record, by instance id. */
  guests(): readonly { readonly id: string; readonly record: string }[];
  /** Creates or replaces a record; durable against the daemon being killed once it returns. */
  putGuest(id: string, record: string): void;
  deleteGuest(id: string): void;
  close(): void;
}

/** Opens (creating and migrating) a host's state; throws FROCTAL_E_CONFIG when the file cannot be used. */
export function openHostState(dir: string): HostState {
  const { db, path } = openDatabaseFile(dir, HOST_STATE_FILE_NAME, HOST_MIGRATIONS);
  return new SqliteHostState(db, path);
}

class SqliteHostState implements HostState {
  readonly path: string;
  readonly #db: Database;
  readonly #all: Statement<{ readonly id: string; readonly record: string }>;
  readonly #put: Statement;
  readonly #delete: Statement;

  constructor(db: Database, path: string) {
    this.path = path;
    this.#db = db;
    this.#all = db.prepare("SELECT id, record FROM guests ORDER BY id");
    this.#put = db.prepare("INSERT OR REPLACE INTO guests (id, record) VALUES (?, ?)");
    this.#delete = db.prepare("DELETE FROM guests WHERE id = ?");
  }

  guests(): readonly { readonly id: string; readonly record: string }[] {
    return this.#run("read the guest records", () => this.#all.all());
  }

  putGuest(id: string, record: string): void {
    this.#run(`store the record of guest ${JSON.stringify(id)}`, () => this.#put.run(id, record));
  }

  deleteGuest(id: string): void {
    this.#run(`delete the record of guest ${JSON.stringify(id)}`, () => this.#delete.run(id));
  }

  close(): void {
    this.#db.close();
  }

  #run<T>(what: string, run: () => T): T {
    try {
      return run();
    } catch (cause) {
      throw sqliteFailure(cause, `could not ${what} in ${this.path}`);
    }
  }
}
