import { type ChildProcess, spawn } from "node:child_process";
import type { Readable } from "node:stream";
import type { Clock, Disposer } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import type { GuestCommand } from "./guest-command.js";
import { LineSplitter } from "./line-splitter.js";
import type { LogStream } from "./options.js";

/** How long output may still arrive after the guest exited; a grandchild holding its pipes cannot delay us longer. */
const STDIO_DRAIN_MS = 500;

/** Spawn errors that mean "not now" rather than "not like this". */
const RESOURCE_ERRORS = new Set(["EAGAIN", "EMFILE", "ENFILE", "ENOMEM"]);

export interface GuestExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** The guest was asked to stop before it exited. */
  readonly requested: boolean;
  readonly detail: string;
}

export interface GuestHooks {
  line(stream: LogStream, line: string): void;
  /** Called once, after the last line and before `exited` resolves. */
  exited(exit: GuestExit): void;
}

/** What the driver needs of a guest that runs: one it launched (Guest) or one it adopted (AdoptedGuest). */
export interface RunningGuest {
  readonly pid: number;
  /** Resolves once the guest has exited and its exit was handed to the hooks; never rejects. */
  readonly exited: Promise<GuestExit>;
  /** True until the guest has exited. */
  readonly running: boolean;
  /** True once stop() was called and the guest has not exited yet. */
  readonly stopping: boolean;
  /** SIGTERM to the guest's process group, SIGKILL after `graceMs`; resolves when it has exited. */
  stop(graceMs: number): Promise<GuestExit>;
}

export interface GuestSettings {
  readonly clock: Clock;
  readonly maxLineBytes: number;
}

/**
 * Spawns one guest and resolves once it runs; rejects with a FroctalError if it
 * could not be spawned, in which case no hook is ever called.
 *
 * `output`, for a kept guest (see kept.ts): an open file that gets the guest's
 * stdout and stderr instead of pipes, and no lifeline; the child is unref'd so
 * that it never keeps the driver's process alive. The caller may close its own
 * descriptor once this returns.
 */
export function launchGuest(
  command: GuestCommand,
  settings: GuestSettings,
  hooks: GuestHooks,
  output?: number,
): Promise<Guest> {
  let child: ChildProcess;
  try {
    child = spawn(command.file, command.args, {
      env: command.env,
      // stdin closed; stdout, stderr; fd 3 is the lifeline, which the guest watches for EOF. A kept guest: its file, no lifeline.
      stdio: output === undefined ? ["ignore", "pipe", "pipe", "pipe"] : ["ignore", output, output],
      // Own process group: stop() signals the guest and the processes it started.
      detached: true,
    });
  } catch (cause) {
    return Promise.reject(spawnError(command, cause));
  }
  // Later errors (a failed kill) carry nothing the exit does not; without a listener they would crash the manager.
  child.on("error", () => {});
  return new Promise((resolve, reject) => {
    const onSpawn = () => {
      child.off("error", onError);
      if (output !== undefined) child.unref();
      resolve(new Guest(child, settings, hooks));
    };
    const onError = (cause: Error) => {
      child.off("spawn", onSpawn);
      reject(spawnError(command, cause));
    };
    child.once("spawn", onSpawn);
    child.once("error", onError);
  });
}

/** One running child process: its output, its stop sequence and its exit. */
export class Guest implements RunningGuest {
  readonly pid: number;
  /** Resolves after the guest exited and its last output line was handed on; never rejects. */
  readonly exited: Promise<GuestExit>;
  readonly #child: ChildProcess;
  readonly #settings: GuestSettings;
  readonly #hooks: GuestHooks;
  readonly #splitters: Record<LogStream, LineSplitter>;
  /** The output pipes still open: none for a kept guest, whose output goes to a file. */
  #streamsOpen = 0;
  #exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  #requested = false;
  #graceMs: number | undefined;
  #killedAfterGrace = false;
  #cancelKill: Disposer | undefined;
  #cancelDrain: Disposer | undefined;
  #finished = false;
  #resolveExited!: (exit: GuestExit) => void;

  constructor(child: ChildProcess, settings: GuestSettings, hooks: GuestHooks) {
    this.pid = child.pid!;
    this.#child = child;
    this.#settings = settings;
    this.#hooks = hooks;
    this.exited = new Promise((resolve) => {
      this.#resolveExited = resolve;
    });
    this.#splitters = {
      stdout: new LineSplitter(settings.maxLineBytes, (line) => hooks.line("stdout", line)),
      stderr: new LineSplitter(settings.maxLineBytes, (line) => hooks.line("stderr", line)),
    };
    for (const name of ["stdout", "stderr"] as const) {
      const stream = child[name];
      if (stream === null) continue;
      this.#streamsOpen += 1;
      const splitter = this.#splitters[name];
      stream.on("data", (chunk: Buffer) => splitter.push(chunk));
      stream.on("end", () => splitter.end());
      stream.on("close", () => {
        this.#streamsOpen -= 1;
        this.#maybeFinish();
      });
    }
    // Read (and discard) the lifeline, so that our end notices when the guest is gone.
    const lifeline = child.stdio[3] as Readable | null | undefined;
    lifeline?.on("error", () => {});
    lifeline?.resume();
    child.once("exit", (code, signal) => {
      this.#exit = { code, signal };
      this.#cancelKill?.();
      this.#cancelDrain = settings.clock.setTimeout(() => this.#finish(), STDIO_DRAIN_MS);
      this.#maybeFinish();
    });
  }

  /** True until the process has exited (its output may still be draining). */
  get running(): boolean {
    return this.#exit === undefined;
  }

  /** True once stop() was called and the guest has not exited yet. */
  get stopping(): boolean {
    return this.#requested && this.#exit === undefined;
  }

  /**
   * SIGTERM to the guest's process group, SIGKILL after `graceMs`; resolves when
   * the guest has exited. Repeated calls wait for the first stop, whose grace
   * period applies.
   */
  stop(graceMs: number): Promise<GuestExit> {
    if (this.#exit === undefined && !this.#requested) {
      this.#requested = true;
      this.#graceMs = graceMs;
      this.#signal("SIGTERM");
      this.#cancelKill = this.#settings.clock.setTimeout(() => {
        this.#killedAfterGrace = this.#exit === undefined;
        this.#signal("SIGKILL");
      }, graceMs);
    }
    return this.exited;
  }

  #signal(signal: NodeJS.Signals): void {
    // Once exited the pid is no longer ours: it may already name another process.
    if (this.#exit !== undefined) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      this.#child.kill(signal);
    }
  }

  #maybeFinish(): void {
    if (this.#exit !== undefined && this.#streamsOpen === 0) this.#finish();
  }

  #finish(): void {
    if (this.#finished || this.#exit === undefined) return;
    this.#finished = true;
    this.#cancelDrain?.();
    for (const splitter of Object.values(this.#splitters)) splitter.end();
    for (const stream of this.#child.stdio) stream?.destroy();
    const { code, signal } = this.#exit;
    const exit: GuestExit = {
      code,
      signal,
      requested: this.#requested,
      detail: describeExit(code, signal, this.#requested, this.#killedAfterGrace ? this.#graceMs : undefined),
    };
    this.#hooks.exited(exit);
    this.#resolveExited(exit);
  }
}

function describeExit(
  code: number | null,
  signal: NodeJS.Signals | null,
  requested: boolean,
  killedAfterGraceMs: number | undefined,
): string {
  const how =
    signal === null
      ? `exited with code ${code}`
      : signal === "SIGKILL" && killedAfterGraceMs !== undefined
        ? `killed by SIGKILL after its ${killedAfterGraceMs} ms grace period`
        : `killed by ${signal}`;
  return requested ? `stopped on request: ${how}` : how;
}

function spawnError(command: GuestCommand, cause: unknown): FroctalError {
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const why = code ?? (cause instanceof Error ? cause.message : String(cause));
  if (code !== undefined && RESOURCE_ERRORS.has(code)) {
    return new FroctalError(
      "FROCTAL_E_INTERNAL",
      `instance ${command.instanceId} could not be spawned for lack of resources (${why})`,
      { cause, retryable: true },
    );
  }
  return new FroctalError(
    "FROCTAL_E_CONFIG",
    `instance ${command.instanceId} could not be spawned: ${command.file} failed to run ${command.runs} (${why})`,
    { cause },
  );
}
