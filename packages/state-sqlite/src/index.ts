/**
 * @froctal/state-sqlite: the manager's State port on one SQLite file,
 * `<state dir>/froctal.db` (mode 0600: it holds every instance's token).
 *
 *   sqlite-state.ts    openSqliteState: the StateStore (prepared writes, load, flush, close)
 *   host-state.ts      openHostState: a host daemon's guest records, in a file of its own
 *   database-file.ts   creating the directory and file privately; WAL, synchronous, busy timeout
 *   schema.ts          the tables and their forward migrations (PRAGMA user_version)
 *   errors.ts          SQLite failures as FroctalErrors
 *   better-sqlite3.d.ts  the few better-sqlite3 types used here
 */
export { STATE_FILE_NAME } from "./database-file.js";
export { HOST_STATE_FILE_NAME, type HostState, openHostState } from "./host-state.js";
export { SCHEMA_VERSION } from "./schema.js";
export { openSqliteState, type SqliteState, type SqliteStateOptions } from "./sqlite-state.js";
