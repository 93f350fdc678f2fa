import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import type { LaunchSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import type { GuestCommand } from "./guest-command.js";
import { readProcStat } from "./proc.js";

/**
 * A guest launched in keep mode, as its record keeps it: enough for a later
 * driver (after the host daemon restarted) to prove that a pid still names
 * this very guest, and to list it. A pid alone proves nothing: it is reused.
 */
export interface KeptGuest {
  readonly instanceId: string;
  readonly fleet: string;
  readonly fleetId: string;
  readonly service: string;
  readonly pid: number;
  /** `starttime` of /proc/<pid>/stat (field 22, clock ticks since boot), decimal: what tells a reused pid apart. */
  readonly startTime: string;
  /** The guest's FROCTAL_TOKEN as launched, "" if it had none; /proc/<pid>/environ must still hold it. */
  readonly token: string;
}

/**
 * Where keep mode keeps its guests' records, across restarts of the driver's
 * process: the host daemon's state (SQLite). Synchronous and keyed by
 * instance id; put() replaces a record of the same instance id. A method that
 * throws fails the start() that called it (put), or surfaces as an uncaught
 * error (delete, when a guest is gone: a record left behind is harmless, the
 * next adoption finds its process gone and drops it).
 */
export interface GuestRecords {
  all(): readonly KeptGuest[];
  put(guest: KeptGuest): void;
  delete(instanceId: string): void;
}

/** Keep mode: guests outlive the driver's process and a later driver adopts them. See the README. */
export interface KeepOptions {
  readonly records: GuestRecords;
  /** Directory of the guests' output, `<logDir>/<instanceId>.log`, appended to; created if missing. */
  readonly logDir: string;
  /** How often an adopted guest (not our child: no exit event) is looked for in /proc, ms. Default 200. */
  readonly pollMs?: number;
}

/** What adopt() found: the records whose guests still run (now entries), and those dropped. */
export interface Adoption {
  readonly adopted: readonly string[];
  readonly gone: readonly string[];
}

/** The log file of a kept guest, opened for appending: the guest gets the descriptor, the driver closes its own. */
export async function openGuestLog(
  logDir: string,
  instanceId: string,
): Promise<{ readonly fd: number; close(): Promise<void> }> {
  // The instance id names a file: a slash would put it elsewhere, a NUL cannot be in a path.
  if (instanceId.includes("/") || instanceId.includes("\0")) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `instance ${JSON.stringify(instanceId)} cannot be kept: its id names its log file and may not hold "/" or NUL`,
    );
  }
  const path = join(logDir, `${instanceId}.log`);
  try {
    await mkdir(logDir, { recursive: true });
    return await open(path, "a", 0o640);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code ?? String(cause);
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `the log file ${path} of instance ${instanceId} cannot be opened (${code})`,
      { cause },
    );
  }
}

/**
 * The record of a guest just spawned. Called before the event loop turns, so
 * that the guest, even if it exited at once, is not yet reaped and /proc still
 * has it. Undefined if /proc has no such process after all.
 */
export function keptGuestOf(spec: LaunchSpec, command: GuestCommand, pid: number): KeptGuest | undefined {
  const stat = readProcStat(pid);
  if (stat === undefined) return undefined;
  const { instanceId, fleet, fleetId, service } = spec;
  return {
    instanceId,
    fleet,
    fleetId,
    service,
    pid,
    startTime: stat.startTime,
    token: command.env.FROCTAL_TOKEN ?? "",
  };
}
