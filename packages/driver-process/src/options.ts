import { resolve } from "node:path";
import type { Clock } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import type { GuestRecords, KeepOptions } from "./kept.js";
import type { GuestNetwork } from "./network.js";

export type LogStream = "stdout" | "stderr";

/** Receives every line a guest prints, whole, one guest's line at a time. */
export type LogSink = (instanceId: string, stream: LogStream, line: string) => void;

export interface ProcessDriverOptions {
  /** Directory that relative images and command paths resolve against. Default: the working directory when the driver is created. */
  readonly imageRoot?: string;
  /** Where guest output goes. Default: discarded (it is still read, so a guest never blocks on a full pipe). */
  readonly log?: LogSink;
  /** Timers for the kill grace period. Default: the real clock. */
  readonly clock?: Clock;
  /** Longest log line passed on, in bytes; longer lines are cut. Default 16 KiB. */
  readonly maxLineBytes?: number;
  /**
   * Variables a guest takes from the manager's environment, before its spec's
   * env is merged over them. Default: PATH, HOME, TMPDIR, TZ, LANG, LC_ALL.
   * Everything else, NODE_OPTIONS included, is left out unless the spec sets it.
   */
  readonly inheritEnv?: readonly string[];
  /** The Node binary that runs guests. Default: the manager's own (process.execPath). */
  readonly execPath?: string;
  /** Grace period, ms, close() gives each guest it still runs before SIGKILL. Default 2000. */
  readonly closeGraceMs?: number;
  /** Grace period, ms, a guest whose manager died gives itself after SIGTERM before SIGKILL. Default 5000. */
  readonly orphanGraceMs?: number;
  /**
   * Keep mode (the host daemon's): guests outlive the driver's process, their
   * output goes to files, and a later driver adopts them from these records.
   * Default: off, guests die with the driver's process (their lifeline).
   */
  readonly keep?: KeepOptions;
  /**
   * A network of its own for each guest (a network namespace with a veth on a
   * bridge; needs root): joined before the spawn, its prefix run in front of
   * the guest's command line, left once the guest is gone. Default: none,
   * guests share the manager's network.
   */
  readonly network?: GuestNetwork;
}

export interface KeepSettings {
  readonly records: GuestRecords;
  readonly logDir: string;
  readonly pollMs: number;
}

export const DEFAULT_INHERITED_ENV: readonly string[] = ["PATH", "HOME", "TMPDIR", "TZ", "LANG", "LC_ALL"];

export interface Settings {
  readonly imageRoot: string;
  readonly log: LogSink | undefined;
  readonly clock: Clock;
  readonly maxLineBytes: number;
  readonly inheritEnv: readonly string[];
  readonly execPath: string;
  readonly closeGraceMs: number;
  readonly orphanGraceMs: number;
  readonly keep: KeepSettings | undefined;
  readonly network: GuestNetwork | undefined;
}

/** Fills in defaults and refuses values that would misbehave later (a NaN grace period kills at once). */
export function settingsFrom(options: ProcessDriverOptions): Settings {
  return {
    imageRoot: resolve(options.imageRoot ?? process.cwd()),
    log: options.log,
    clock: options.clock ?? systemClock,
    maxLineBytes: positiveInteger("maxLineBytes", options.maxLineBytes ?? 16 * 1024),
    inheritEnv: options.inheritEnv ?? DEFAULT_INHERITED_ENV,
    execPath: options.execPath ?? process.execPath,
    closeGraceMs: gracePeriod("closeGraceMs", options.closeGraceMs ?? 2000),
    orphanGraceMs: gracePeriod("orphanGraceMs", options.orphanGraceMs ?? 5000),
    keep: keepFrom(options.keep),
    network: options.network,
  };
}

function keepFrom(keep: KeepOptions | undefined): KeepSettings | undefined {
  if (keep === undefined) return undefined;
  // Adoption proves a guest by its /proc entries; elsewhere no guest could be recorded, nor adopted.
  if (process.platform !== "linux") {
    throw new FroctalError("FROCTAL_E_CONFIG", `keep mode reads /proc, which ${process.platform} does not have`);
  }
  if (keep.logDir.length === 0) throw new FroctalError("FROCTAL_E_CONFIG", "keep.logDir must name a directory");
  return {
    records: keep.records,
    logDir: resolve(keep.logDir),
    pollMs: positiveInteger("keep.pollMs", keep.pollMs ?? 200),
  };
}

export function gracePeriod(name: string, ms: number): number {
  if (Number.isFinite(ms) && ms >= 0) return ms;
  throw new FroctalError("FROCTAL_E_CONFIG", `${name} must be a finite number of milliseconds >= 0, not ${ms}`);
}

function positiveInteger(name: string, value: number): number {
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new FroctalError("FROCTAL_E_CONFIG", `${name} must be a positive integer, not ${value}`);
}
