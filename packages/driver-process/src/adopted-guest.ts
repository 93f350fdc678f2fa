import type { Clock, Disposer } from "@froctal/primitives";
import type { GuestExit, RunningGuest } from "./guest.js";
import type { KeptGuest } from "./kept.js";
import { environHolds, isGuestPid, isSameProcess } from "./proc.js";

const UNKNOWN_CODE = "the exit code of an adopted guest is unknown";

/**
 * True if the record's process still runs and is provably the guest it
 * records: same pid, same start time (a reused pid has another), not a
 * zombie, and, when the record has a token, FROCTAL_TOKEN=<token> in the
 * environment it was exec'd with.
 */
export function stillRuns(kept: KeptGuest): boolean {
  const startTime = String(kept.startTime);
  if (!isGuestPid(kept.pid) || !/^\d+$/.test(startTime)) return false;
  if (!isSameProcess(kept.pid, startTime)) return false;
  if (typeof kept.token !== "string") return false;
  return kept.token.length === 0 || environHolds(kept.pid, "FROCTAL_TOKEN", kept.token);
}

/**
 * A guest an earlier driver launched in keep mode, found still running. It is
 * not our child: no exit event, no exit code, no output pipes (its output
 * goes on to its log file). Its exit is noticed by looking at /proc every
 * `pollMs`, and before each signal the start time is checked again, so a pid
 * that now names another process is never signalled.
 */
export class AdoptedGuest implements RunningGuest {
  readonly pid: number;
  readonly exited: Promise<GuestExit>;
  readonly #startTime: string;
  readonly #clock: Clock;
  readonly #pollMs: number;
  readonly #onExit: (exit: GuestExit) => void;
  #gone = false;
  #requested = false;
  #killedAfterGraceMs: number | undefined;
  #cancelPoll: Disposer | undefined;
  #cancelKill: Disposer | undefined;
  #resolveExited!: (exit: GuestExit) => void;

  /** `onExit` is called once, when the guest is found gone, before `exited` resolves. */
  constructor(kept: KeptGuest, clock: Clock, pollMs: number, onExit: (exit: GuestExit) => void) {
    this.pid = kept.pid;
    this.#startTime = String(kept.startTime);
    this.#clock = clock;
    this.#pollMs = pollMs;
    this.#onExit = onExit;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
    this.#watch();
  }

  get running(): boolean {
    return !this.#gone;
  }

  get stopping(): boolean {
    return this.#requested && !this.#gone;
  }

  /** As Guest.stop; resolves once /proc shows the guest gone. Watches again if release() stopped the watch. */
  stop(graceMs: number): Promise<GuestExit> {
    if (!this.#gone && !this.#requested) {
      this.#requested = true;
      this.#signal("SIGTERM");
      this.#cancelKill = this.#clock.setTimeout(() => {
        if (this.#gone) return;
        this.#killedAfterGraceMs = graceMs;
        this.#signal("SIGKILL");
      }, graceMs);
      this.#watch();
    }
    return this.exited;
  }

  /** Stops watching (the driver is closed); the guest runs on. A stop() under way still finishes. */
  release(): void {
    if (this.stopping) return;
    this.#cancelPoll?.();
    this.#cancelPoll = undefined;
  }

  #watch(): void {
    if (this.#gone || this.#cancelPoll !== undefined) return;
    this.#cancelPoll = this.#clock.setTimeout(() => {
      this.#cancelPoll = undefined;
      if (isSameProcess(this.pid, this.#startTime)) this.#watch();
      else this.#finish();
    }, this.#pollMs);
  }

  #signal(signal: NodeJS.Signals): void {
    // Checked right before each signal: once gone, the pid may name another process already.
    if (this.#gone) return;
    if (!isSameProcess(this.pid, this.#startTime)) {
      this.#finish();
      return;
    }
    try {
      // The guest leads its own process group (it was spawned detached), so the group reaches what it started too.
      process.kill(-this.pid, signal);
    } catch {
      try {
        process.kill(this.pid, signal);
      } catch {
        // gone meanwhile: the next look at /proc sees it
      }
    }
  }

  #finish(): void {
    if (this.#gone) return;
    this.#gone = true;
    this.#cancelPoll?.();
    this.#cancelPoll = undefined;
    this.#cancelKill?.();
    const how =
      this.#killedAfterGraceMs === undefined
        ? `exited; ${UNKNOWN_CODE}`
        : `gone after SIGKILL at the end of its ${this.#killedAfterGraceMs} ms grace period; ${UNKNOWN_CODE}`;
    const exit: GuestExit = {
      code: null,
      signal: null,
      requested: this.#requested,
      detail: this.#requested ? `stopped on request: ${how}` : how,
    };
    this.#onExit(exit);
    this.#resolveExited(exit);
  }
}
