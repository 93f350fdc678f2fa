import type {
  Disposer,
  Driver,
  DriverEvent,
  FleetIdentity,
  LaunchSpec,
  ObservedInstance,
  StopOptions,
} from "@froctal/manager";
import { isolate, Listeners } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { AdoptedGuest, stillRuns } from "./adopted-guest.js";
import { type GuestExit, type GuestHooks, launchGuest, type RunningGuest } from "./guest.js";
import { type GuestCommand, guestCommand, guestEnv, keptGuestCommand } from "./guest-command.js";
import { resolveExecutable, resolveImage } from "./image.js";
import { type Adoption, type KeepOptions, type KeptGuest, keptGuestOf, openGuestLog } from "./kept.js";
import { inNetwork, Networking } from "./network.js";
import { gracePeriod, type KeepSettings, type ProcessDriverOptions, type Settings, settingsFrom } from "./options.js";

/** What list() reports of an instance, and all an adopted guest's record keeps of its spec. */
type Identity = Pick<LaunchSpec, "instanceId" | "fleet" | "fleetId" | "service">;

/** One instance id's slot, from the first start() (or its adoption) until its process has exited. */
interface Entry {
  readonly spec: Identity;
  /** Settles once the process is spawned (or could not be). */
  readonly launch: Promise<RunningGuest>;
  /** Set once the process is spawned (and, in keep mode, recorded), just before `started` is reported. */
  guest: RunningGuest | undefined;
  /** The guest joined its network (the option's): leave it once the guest is gone. */
  joined: boolean;
}

/** The process driver in keep mode: a Driver that adopts the guests an earlier one left running. */
export interface KeepingProcessDriver extends Driver {
  /**
   * Adopts, once, the guests of the records that still run: each record's
   * pid must still have the recorded start time, not be a zombie, and (when
   * the record has a token) have FROCTAL_TOKEN=<token> in its environment.
   * Those become instances of this driver; every other record is deleted, and
   * its process is left alone. start(), stop() and list() wait for it, so a
   * host may call them at once; it calls adopt() for the report. Later calls
   * return the first one's report; a call that failed (the records threw) is
   * tried again by the next.
   */
  adopt(): Promise<Adoption>;
}

/**
 * The embedded default driver: every guest is a local child process running a
 * Node entry module or a command (any executable). See the package README for
 * what happens to the guests when the manager dies, and why close() stops them.
 *
 * With `keep` (the host daemon's mode) guests outlive the driver's process,
 * and close() leaves them running: a later driver adopts them (adopt()).
 */
export function createProcessDriver(
  options: ProcessDriverOptions & { readonly keep: KeepOptions },
): KeepingProcessDriver;
export function createProcessDriver(options?: ProcessDriverOptions): Driver;
export function createProcessDriver(options: ProcessDriverOptions = {}): KeepingProcessDriver {
  return new ProcessDriver(settingsFrom(options));
}

class ProcessDriver implements KeepingProcessDriver {
  readonly name = "process";
  readonly #settings: Settings;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Listeners<DriverEvent>();
  readonly #networking: Networking;
  #adoption: Promise<Adoption> | undefined;
  #closing: Promise<void> | undefined;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.#networking = new Networking(settings.network);
  }

  async start(spec: LaunchSpec): Promise<void> {
    if (this.#closing !== undefined) throw closedError(spec.instanceId);
    if (this.#mustAdopt()) await this.adopt();
    const entry = this.#entries.get(spec.instanceId);
    if (entry === undefined) return this.#launch(spec);
    // Joins a start in flight; if that one fails, this one fails alike.
    const guest = await entry.launch;
    if (guest.running && !guest.stopping) return;
    // Asked to run while it is being stopped (or is gone but not yet reported): wait for the exit, then start afresh.
    await guest.exited;
    return this.start(spec);
  }

  async stop(instanceId: string, options: StopOptions): Promise<void> {
    const graceMs = gracePeriod("graceMs", options.graceMs);
    if (this.#mustAdopt()) await this.adopt();
    const entry = this.#entries.get(instanceId);
    if (entry === undefined) return;
    let guest: RunningGuest;
    try {
      guest = await entry.launch;
    } catch {
      return; // never ran
    }
    await guest.stop(graceMs);
    await this.#networking.left(instanceId);
  }

  /**
   * The running guests of this driver for that fleet id: those it launched,
   * and in keep mode those it adopted. By default its own children are all it
   * can see: none of an earlier manager's outlives it (see the lifeline), so
   * it never finds one marked with a name alone.
   */
  async list(fleet: FleetIdentity): Promise<readonly ObservedInstance[]> {
    if (this.#mustAdopt()) await this.adopt();
    const found: ObservedInstance[] = [];
    for (const { spec, guest } of this.#entries.values()) {
      if (spec.fleetId === fleet.id && guest?.running) {
        const { instanceId, service } = spec;
        found.push({ instanceId, fleet: spec.fleet, fleetId: spec.fleetId, service, state: "running" });
      }
    }
    return found;
  }

  watch(listener: (event: DriverEvent) => void): Disposer {
    if (this.#closing !== undefined) return () => {};
    // A wrapper, so that watching twice with one function gives two independent subscriptions.
    return this.#listeners.add(listener);
  }

  adopt(): Promise<Adoption> {
    if (this.#adoption === undefined) {
      const adoption = Promise.resolve().then(() => this.#adoptAll());
      this.#adoption = adoption;
      adoption.catch(() => {
        if (this.#adoption === adoption) this.#adoption = undefined;
      });
    }
    return this.#adoption;
  }

  /**
   * Stops watching and refuses new starts. By default it then stops every
   * guest still running (SIGTERM, SIGKILL after closeGraceMs): a child process
   * cannot outlive its manager usefully, since no later manager can adopt it.
   * In keep mode it only releases the driver: stops already under way finish,
   * and every other guest runs on, its record kept for the next driver.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#listeners.clear();
      this.#closing = this.#settings.keep === undefined ? this.#stopAll() : this.#release();
    }
    return this.#closing;
  }

  async #stopAll(): Promise<void> {
    const graceMs = this.#settings.closeGraceMs;
    await Promise.all([...this.#entries.keys()].map((id) => this.stop(id, { graceMs })));
  }

  async #release(): Promise<void> {
    const stopping: Promise<void>[] = [];
    for (const { spec, guest } of this.#entries.values()) {
      if (guest?.stopping) stopping.push(guest.exited.then(() => this.#networking.left(spec.instanceId)));
      else if (guest instanceof AdoptedGuest) guest.release();
    }
    await Promise.all(stopping);
  }

  /**
   * Keep mode: every call waits for adoption first, so that a start never
   * duplicates a guest that runs on. (A test, not an await, so that the
   * default mode's calls keep their order and timing.)
   */
  #mustAdopt(): boolean {
    return this.#settings.keep !== undefined && this.#closing === undefined;
  }

  #adoptAll(): Adoption {
    const keep = this.#settings.keep;
    if (keep === undefined) return { adopted: [], gone: [] };
    if (this.#closing !== undefined) {
      throw new FroctalError("FROCTAL_E_CLOSED", "the process driver is closed; it adopts no guests");
    }
    try {
      return this.#adoptRecords(keep);
    } catch (cause) {
      if (cause instanceof FroctalError) throw cause;
      const why = cause instanceof Error ? cause.message : String(cause);
      throw new FroctalError(
        "FROCTAL_E_INTERNAL",
        `the kept guests could not be adopted: their records failed (${why})`,
        {
          cause,
          retryable: true,
        },
      );
    }
  }

  #adoptRecords(keep: KeepSettings): Adoption {
    const adopted: string[] = [];
    const gone: string[] = [];
    for (const kept of keep.records.all()) {
      const { instanceId } = kept;
      // Adopted by an earlier call that failed on a later record.
      if (this.#entries.has(instanceId)) adopted.push(instanceId);
      else if (stillRuns(kept)) {
        this.#adoptOne(kept, keep);
        adopted.push(instanceId);
      } else {
        // Its process is gone, or the pid names another one now: dropped, never signalled.
        keep.records.delete(instanceId);
        gone.push(instanceId);
      }
    }
    return { adopted, gone };
  }

  #adoptOne(kept: KeptGuest, keep: KeepSettings): void {
    const { instanceId, fleet, fleetId, service } = kept;
    const guest = new AdoptedGuest(kept, this.#settings.clock, keep.pollMs, (exit) => this.#exited(entry, exit));
    const entry: Entry = {
      spec: { instanceId, fleet, fleetId, service },
      launch: Promise.resolve(guest),
      guest,
      // Its network was joined by the driver that launched it; this one leaves it, and never joins it again.
      joined: this.#networking.enabled,
    };
    this.#entries.set(instanceId, entry);
  }

  #launch(spec: LaunchSpec): Promise<void> {
    const { instanceId } = spec;
    const settings = this.#settings;
    const { log, keep } = settings;
    const hooks: GuestHooks = {
      line: (stream, line) => {
        if (log !== undefined) isolate(() => log(instanceId, stream, line));
      },
      exited: (exit) => this.#exited(entry, exit),
    };
    // Deferred a microtask, so it may refer to `entry`, which holds it.
    const launch = Promise.resolve().then(async () => {
      const runs =
        spec.command === undefined
          ? await resolveImage(spec.image, settings.imageRoot, instanceId)
          : await resolveExecutable(spec.command[0], settings.imageRoot, guestEnv(spec, settings).PATH, instanceId);
      const output = keep === undefined ? undefined : await openGuestLog(keep.logDir, instanceId);
      try {
        if (this.#closing !== undefined) throw closedError(instanceId);
        // Before the spawn: run in a namespace that is missing, the guest would merely exit 255.
        const prefix = await this.#networking.join(spec);
        let command: GuestCommand;
        let guest: RunningGuest;
        try {
          if (this.#closing !== undefined) throw closedError(instanceId);
          const plain =
            keep === undefined ? guestCommand(spec, runs, settings) : keptGuestCommand(spec, runs, settings);
          command = inNetwork(plain, prefix);
          guest = await launchGuest(command, settings, hooks, output?.fd);
        } catch (cause) {
          // Nothing was spawned, so nothing will exit: the network is left now.
          if (prefix !== undefined) await this.#networking.leave(instanceId);
          throw cause;
        }
        // From here on the guest's exit leaves the network, even if its record fails below and it is killed.
        entry.joined = prefix !== undefined;
        if (keep !== undefined) this.#record(spec, command, guest, keep);
        entry.guest = guest;
        this.#emit({ kind: "started", instanceId, detail: `pid ${guest.pid} runs ${runs}` });
        return guest;
      } finally {
        // The guest has its own descriptor of the file now.
        await output?.close();
      }
    });
    const entry: Entry = { spec, launch, guest: undefined, joined: false };
    this.#entries.set(instanceId, entry);
    return entry.launch.then(
      () => undefined,
      (cause: unknown) => {
        if (this.#entries.get(instanceId) === entry) this.#entries.delete(instanceId);
        throw cause;
      },
    );
  }

  /**
   * Keeps the record of a guest just spawned, before the event loop turns (so
   * /proc still has it even if it exited at once). A guest that cannot be
   * recorded could be adopted by no later driver, so it is killed and start()
   * fails instead.
   */
  #record(spec: LaunchSpec, command: GuestCommand, guest: RunningGuest, keep: KeepSettings): void {
    const kept = keptGuestOf(spec, command, guest.pid);
    if (kept === undefined) return; // gone already: its exit follows
    try {
      keep.records.put(kept);
    } catch (cause) {
      void guest.stop(0);
      throw new FroctalError(
        "FROCTAL_E_INTERNAL",
        `instance ${spec.instanceId} was killed at once: its record could not be kept, so no later driver could adopt it`,
        { cause, retryable: true },
      );
    }
  }

  /** A guest of `entry` has exited: the slot is freed, its record dropped, its exit reported. */
  #exited(entry: Entry, exit: GuestExit): void {
    const { instanceId } = entry.spec;
    const current = this.#entries.get(instanceId) === entry;
    if (current) this.#entries.delete(instanceId);
    const keep = this.#settings.keep;
    // A kept guest the driver released (closed, not stopping it) runs on for the next driver, its network with it.
    const released = keep !== undefined && this.#closing !== undefined && !exit.requested;
    if (entry.joined && !released) void this.#networking.leave(instanceId);
    // Never reported started (its record could not be kept): nothing to report, no record of it.
    if (entry.guest === undefined) return;
    // Once closed, the records are the next driver's, which may have adopted this very guest.
    if (keep !== undefined && current && this.#closing === undefined) {
      isolate(() => keep.records.delete(instanceId));
    }
    this.#emit({ kind: "exited", instanceId, requested: exit.requested, code: exit.code, detail: exit.detail });
  }

  #emit(event: DriverEvent): void {
    this.#listeners.emit(event);
  }
}

function closedError(instanceId: string): FroctalError {
  return new FroctalError("FROCTAL_E_CLOSED", `the process driver is closed; instance ${instanceId} was not started`);
}
