import { randomBytes } from "node:crypto";
import type { FleetState, InstanceRecord, StateStore } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import type { Database, Statement, Transaction } from "better-sqlite3";
import { openDatabaseFile } from "./database-file.js";
import { sqliteFailure } from "./errors.js";

export interface SqliteStateOptions {
  /** The manager's state directory; created with mode 0700 if missing. The database is `<dir>/froctal.db`. */
  readonly dir: string;
  /**
   * Hears about a write that could not be stored (disk full, the file locked
   * past the busy timeout, a record the schema refuses). The write is then lost,
   * and the store carries on. Default: throw the error out of the call that wrote.
   */
  readonly onError?: (error: FroctalError) => void;
}

/** The State port on one SQLite file. */
export interface SqliteState extends StateStore {
  /** The database file, for logs. */
  readonly path: string;
  /** Synchronous here: SQLite reads without waiting on anyone. */
  load(fleet: string): FleetState;
}

/**
 * Opens the state in `options.dir`, creating and migrating the database as needed.
 * Every write is one SQLite transaction, applied before the call returns; it
 * survives the manager being killed at once, and a power cut after the next
 * flush(). Throws FROCTAL_E_CONFIG when the file cannot be used.
 */
export function openSqliteState(options: SqliteStateOptions): SqliteState {
  const { db, path } = openDatabaseFile(options.dir);
  return new SqliteStateStore(db, path, options.onError ?? rethrow);
}

interface InstanceRow {
  readonly id: string;
  readonly service: string;
  readonly ordinal: number;
  readonly token: string;
  readonly phase: string;
  readonly generation: number;
  readonly config_json: string;
}

interface CheckpointRow {
  readonly busy: number;
  readonly log: number;
  readonly checkpointed: number;
}

class SqliteStateStore implements SqliteState {
  readonly path: string;
  readonly #db: Database;
  readonly #onError: (error: FroctalError) => void;
  // Prepared once: a write is then one bind and one step.
  readonly #reserve: Statement;
  readonly #reserveOrdinals: Statement;
  readonly #put: Statement;
  readonly #delete: Statement;
  readonly #putHost: Statement;
  readonly #load: Transaction<
    (fleet: string, newId: string, newSecret: string) => { readonly made: boolean; readonly state: FleetState }
  >;
  #closed = false;

  constructor(db: Database, path: string, onError: (error: FroctalError) => void) {
    this.path = path;
    this.#db = db;
    this.#onError = onError;
    // One statement is one transaction; max() makes a lower or repeated reservation a no-op.
    this.#reserve = db.prepare(
      `INSERT INTO generations (fleet, reserved) VALUES (?, ?)
       ON CONFLICT (fleet) DO UPDATE SET reserved = max(reserved, excluded.reserved)`,
    );
    this.#reserveOrdinals = db.prepare(
      `INSERT INTO ordinals (fleet, last) VALUES (?, ?)
       ON CONFLICT (fleet) DO UPDATE SET last = max(last, excluded.last)`,
    );
    this.#put = db.prepare(
      `INSERT OR REPLACE INTO instances (fleet, id, service, ordinal, token, phase, generation, config_json)
       VALUES (@fleet, @id, @service, @ordinal, @token, @phase, @generation, @configJson)`,
    );
    this.#delete = db.prepare("DELETE FROM instances WHERE fleet = ? AND id = ?");
    this.#putHost = db.prepare("INSERT INTO hosts (fleet, id) VALUES (?, ?) ON CONFLICT DO NOTHING");
    const reserved = db.prepare<{ readonly reserved: number }>("SELECT reserved FROM generations WHERE fleet = ?");
    const lastOrdinal = db.prepare<{ readonly last: number }>("SELECT last FROM ordinals WHERE fleet = ?");
    const instances = db.prepare<InstanceRow>(
      `SELECT id, service, ordinal, token, phase, generation, config_json
       FROM instances WHERE fleet = ? ORDER BY id`,
    );
    // A fleet's id is claimed once: a second manager on the same file, or a later load, reads the first one's.
    const claim = db.prepare("INSERT INTO fleets (fleet, id) VALUES (?, ?) ON CONFLICT (fleet) DO NOTHING");
    const fleetId = db.prepare<{ readonly id: string }>("SELECT id FROM fleets WHERE fleet = ?");
    const claimSecret = db.prepare(
      "INSERT INTO host_secrets (fleet, secret) VALUES (?, ?) ON CONFLICT (fleet) DO NOTHING",
    );
    const hostSecret = db.prepare<{ readonly secret: string }>("SELECT secret FROM host_secrets WHERE fleet = ?");
    const hosts = db.prepare<{ readonly id: string }>("SELECT id FROM hosts WHERE fleet = ? ORDER BY id");
    // The claim and every read in one transaction: one snapshot, even while another connection writes.
    this.#load = db.transaction((fleet: string, newId: string, newSecret: string) => ({
      made: (claim.run(fleet, newId).changes | claimSecret.run(fleet, newSecret).changes) === 1,
      state: {
        fleetId: fleetId.get(fleet)!.id,
        hostSecret: hostSecret.get(fleet)!.secret,
        hosts: hosts.all(fleet).map((row) => row.id),
        reservedGeneration: reserved.get(fleet)?.reserved ?? 0,
        lastOrdinal: lastOrdinal.get(fleet)?.last ?? 0,
        instances: instances.all(fleet).map(toRecord),
      },
    }));
  }

  /** Gives a fleet seen for the first time its id, and syncs the file before returning it (see StateStore.load). */
  load(fleet: string): FleetState {
    this.#ensureOpen("load()");
    try {
      // IMMEDIATE: the claim may write, so take the write lock before reading.
      const { made, state } = this.#load.immediate(
        fleet,
        randomBytes(16).toString("hex"),
        randomBytes(32).toString("hex"),
      );
      if (made) this.#checkpoint();
      return state;
    } catch (cause) {
      throw sqliteFailure(cause, `the state of fleet ${quote(fleet)} could not be read from ${this.path}`);
    }
  }

  reserveGenerations(fleet: string, upTo: number): void {
    this.#write("reserveGenerations()", `the reservation of generations up to ${upTo} for fleet ${quote(fleet)}`, () =>
      this.#reserve.run(fleet, upTo),
    );
  }

  reserveOrdinals(fleet: string, upTo: number): void {
    this.#write("reserveOrdinals()", `the mark of ordinals up to ${upTo} for fleet ${quote(fleet)}`, () =>
      this.#reserveOrdinals.run(fleet, upTo),
    );
  }

  putInstance(fleet: string, record: InstanceRecord): void {
    this.#write("putInstance()", `the record of instance ${quote(record.id)} in fleet ${quote(fleet)}`, () =>
      this.#put.run({
        fleet,
        id: record.id,
        service: record.service,
        ordinal: record.ordinal,
        token: record.token,
        phase: record.phase,
        generation: record.generation,
        configJson: record.configJson,
      }),
    );
  }

  deleteInstance(fleet: string, instanceId: string): void {
    this.#write("deleteInstance()", `the deletion of instance ${quote(instanceId)} from fleet ${quote(fleet)}`, () =>
      this.#delete.run(fleet, instanceId),
    );
  }

  putHost(fleet: string, hostId: string): void {
    this.#write("putHost()", `the record of host ${quote(hostId)} in fleet ${quote(fleet)}`, () =>
      this.#putHost.run(fleet, hostId),
    );
  }

  async flush(): Promise<void> {
    this.#ensureOpen("flush()");
    this.#checkpoint();
  }

  /** Makes every write durable, as flush() does, then closes the file; a second close() does nothing. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#checkpoint();
    } finally {
      this.#db.close();
    }
  }

  #write(method: string, what: string, run: () => void): void {
    this.#ensureOpen(method);
    try {
      run();
    } catch (cause) {
      this.#onError(sqliteFailure(cause, `${what} was not stored in ${this.path}`));
    }
  }

  /**
   * With synchronous=NORMAL the last commits sit in the WAL unsynced. A FULL
   * checkpoint syncs the WAL, copies it into the database file and syncs that;
   * it waits (up to the busy timeout) for other connections' readers to finish.
   */
  #checkpoint(): void {
    let row: CheckpointRow | undefined;
    try {
      row = this.#db.pragma("wal_checkpoint(FULL)")[0] as CheckpointRow | undefined;
    } catch (cause) {
      throw sqliteFailure(cause, `the writes to ${this.path} could not be made durable`);
    }
    if (row !== undefined && row.busy !== 0) {
      throw new FroctalError(
        "FROCTAL_E_TIMEOUT",
        `the writes to ${this.path} could not be made durable: another connection kept the file busy`,
      );
    }
  }

  #ensureOpen(what: string): void {
    if (this.#closed) throw new FroctalError("FROCTAL_E_CLOSED", `${what} was called after the state store was closed`);
  }
}

function toRecord(row: InstanceRow): InstanceRecord {
  return {
    id: row.id,
    service: row.service,
    ordinal: row.ordinal,
    token: row.token,
    phase: row.phase,
    generation: row.generation,
    configJson: row.config_json,
  };
}

function quote(name: string): string {
  return JSON.stringify(name);
}

function rethrow(error: FroctalError): never {
  throw error;
}
