import { type ErrorCode, FroctalError } from "@froctal/protocol";

/**
 * Turns anything a SQLite call threw into a FroctalError. The code says what
 * the manager can do about it: wait (the lock or the disk may free up), fix the
 * state file (the operator's job), or report a bug (a record the schema refuses).
 */
export function sqliteFailure(cause: unknown, sentence: string): FroctalError {
  if (cause instanceof FroctalError) return cause;
  const sqliteCode = codeOf(cause);
  const detail = cause instanceof Error ? cause.message : String(cause);
  return new FroctalError(froctalCode(sqliteCode), `${sentence} (${sqliteCode ?? "error"}: ${detail})`, { cause });
}

function froctalCode(sqliteCode: string | undefined): ErrorCode {
  // Extended codes refine the primary one: SQLITE_IOERR_FSYNC is an SQLITE_IOERR.
  const primary = sqliteCode?.match(/^SQLITE_[A-Z]+/)?.[0];
  switch (primary) {
    case "SQLITE_BUSY":
    case "SQLITE_LOCKED":
      return "FROCTAL_E_TIMEOUT";
    case "SQLITE_FULL":
    case "SQLITE_NOMEM":
    case "SQLITE_IOERR":
      return "FROCTAL_E_RESOURCES";
    case "SQLITE_CORRUPT":
    case "SQLITE_NOTADB":
    case "SQLITE_READONLY":
    case "SQLITE_CANTOPEN":
    case "SQLITE_PERM":
    case "SQLITE_AUTH":
      return "FROCTAL_E_CONFIG";
    default:
      // Constraint and type failures: the caller handed over a record the schema refuses.
      return "FROCTAL_E_INTERNAL";
  }
}

function codeOf(cause: unknown): string | undefined {
  if (typeof cause !== "object" || cause === null || !("code" in cause)) return undefined;
  return typeof cause.code === "string" ? cause.code : undefined;
}
