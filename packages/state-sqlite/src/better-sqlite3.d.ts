/**
 * The part of better-sqlite3 12.x this package uses, declared here because
 * @types/better-sqlite3 is not a dependency. Keep it to what the code calls:
 * a wrong line here is not checked against the library (skipLibCheck).
 */
declare module "better-sqlite3" {
  export interface Options {
    /** Refuse to create the file: this package creates it itself, with mode 0600. */
    readonly fileMustExist?: boolean;
    /** Milliseconds a statement waits for another connection's lock (SQLite's busy timeout). */
    readonly timeout?: number;
  }

  export interface RunResult {
    readonly changes: number;
    readonly lastInsertRowid: number | bigint;
  }

  /** A prepared statement; `Row` is what the caller knows the query returns. */
  export interface Statement<Row = unknown> {
    run(...params: unknown[]): RunResult;
    get(...params: unknown[]): Row | undefined;
    all(...params: unknown[]): Row[];
  }

  /** A function that runs its body in one transaction (BEGIN by default). */
  export interface Transaction<F extends (...args: never[]) => unknown> {
    (...args: Parameters<F>): ReturnType<F>;
    /** The same, but BEGIN IMMEDIATE: takes the write lock before the body reads. */
    immediate(...args: Parameters<F>): ReturnType<F>;
  }

  export interface Database {
    readonly open: boolean;
    readonly name: string;
    prepare<Row = unknown>(source: string): Statement<Row>;
    exec(source: string): this;
    /** `PRAGMA source`; with `simple`, the first column of the first row. */
    pragma(source: string, options: { readonly simple: true }): unknown;
    pragma(source: string, options?: { readonly simple?: false }): unknown[];
    transaction<F extends (...args: never[]) => unknown>(fn: F): Transaction<F>;
    close(): this;
  }

  /** What every failed SQLite call throws; `code` is SQLite's extended code name, like "SQLITE_NOTADB". */
  export interface SqliteError extends Error {
    readonly code: string;
  }

  interface DatabaseConstructor {
    new (filename: string, options?: Options): Database;
    readonly SqliteError: new (message: string, code: string) => SqliteError;
  }

  const Database: DatabaseConstructor;
  export default Database;
}
