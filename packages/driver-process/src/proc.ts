import { readFileSync } from "node:fs";

/**
 * What /proc/<pid>/stat says about a process: enough to tell that a pid still
 * names the process we launched. Reads are synchronous: /proc is in memory,
 * and the check before a signal should leave as short a window as it can.
 */
export interface ProcStat {
  /** Field 3: R, S, D, Z (zombie), T, ... */
  readonly state: string;
  /** Field 22, `starttime`: clock ticks since boot when the process was forked; exec does not change it. */
  readonly startTime: string;
}

/**
 * Parses one /proc/<pid>/stat line. comm (field 2) may hold spaces and
 * parentheses, so the fields are those after the LAST ')'. Undefined if the
 * line is not one.
 */
export function parseProcStat(line: string): ProcStat | undefined {
  const close = line.lastIndexOf(")");
  if (close < 0) return undefined;
  // After ") ": field 3 (state) is index 0, so field 22 (starttime) is index 19.
  const fields = line.slice(close + 2).split(" ");
  const state = fields[0];
  const startTime = fields[19];
  if (state === undefined || state.length === 0 || startTime === undefined || !/^\d+$/.test(startTime)) {
    return undefined;
  }
  return { state, startTime };
}

/** /proc/<pid>/stat of a live process, or undefined if there is none (or it cannot be read). */
export function readProcStat(pid: number): ProcStat | undefined {
  try {
    return parseProcStat(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}

/** A pid that can name one process: kill(-pid) of 0, 1 or a negative number would reach far more than a guest. */
export function isGuestPid(pid: number): boolean {
  return Number.isSafeInteger(pid) && pid > 1;
}

/**
 * True while `pid` names the very process that was started at `startTime`
 * and has not exited: a reused pid has another start time, and a zombie has
 * exited already (its pid is no longer a guest's to signal).
 */
export function isSameProcess(pid: number, startTime: string): boolean {
  if (!isGuestPid(pid)) return false;
  const stat = readProcStat(pid);
  return stat !== undefined && stat.state !== "Z" && stat.startTime === startTime;
}

/**
 * True if the process's initial environment (/proc/<pid>/environ, as exec
 * gave it) holds `name=value`. False if it cannot be read (another user's
 * process, or gone): what cannot be checked does not match.
 */
export function environHolds(pid: number, name: string, value: string): boolean {
  let environ: string;
  try {
    environ = readFileSync(`/proc/${pid}/environ`, "utf8");
  } catch {
    return false;
  }
  return environ.split("\0").includes(`${name}=${value}`);
}
