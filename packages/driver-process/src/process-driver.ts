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
import { type Guest, type GuestHooks, launchGuest } from "./guest.js";
import { guestCommand, guestEnv } from "./guest-command.js";
import { resolveExecutable, resolveImage } from "./image.js";
import { gracePeriod, type ProcessDriverOptions, type Settings, settingsFrom } from "./options.js";

/** One instance id's slot, from the first start() until its process has exited. */
interface Entry {
  readonly spec: LaunchSpec;
  /** Settles once the process is spawned (or could not be). */
  readonly launch: Promise<Guest>;
  /** Set as soon as the process is spawned. */
  guest: Guest | undefined;
}

/**
 * The embedded default driver: every guest is a local child process running a
 * Node entry module or a command (any executable). See the package README for
 * what happens to the guests when the manager dies, and why close() stops them.
 */
export function createProcessDriver(options: ProcessDriverOptions = {}): Driver {
  return new ProcessDriver(settingsFrom(options));
}

class ProcessDriver implements Driver {
  readonly name = "process";
  readonly #settings: Settings;
  readonly #entries = new Map<string, Entry>();
  readonly #listeners = new Listeners<DriverEvent>();
  #closing: Promise<void> | undefined;

  constructor(settings: Settings) {
    this.#settings = settings;
  }

  async start(spec: LaunchSpec): Promise<void> {
    if (this.#closing !== undefined) throw closedError(spec.instanceId);
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
    const entry = this.#entries.get(instanceId);
    if (entry === undefined) return;
    let guest: Guest;
    try {
      guest = await entry.launch;
    } catch {
      return; // never ran
    }
    await guest.stop(graceMs);
  }

  /**
   * The running children this driver launched for that fleet id. Its own
   * children are all it can see: none of an earlier manager's outlives it
   * (see the lifeline), so it never finds one marked with a name alone.
   */
  async list(fleet: FleetIdentity): Promise<readonly ObservedInstance[]> {
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

  /**
   * Stops watching, refuses new starts, and stops every guest still running
   * (SIGTERM, SIGKILL after closeGraceMs): a child process cannot outlive its
   * manager usefully, since no later manager can adopt it.
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#listeners.clear();
      const graceMs = this.#settings.closeGraceMs;
      const stops = [...this.#entries.keys()].map((id) => this.stop(id, { graceMs }));
      this.#closing = Promise.all(stops).then(() => undefined);
    }
    return this.#closing;
  }

  #launch(spec: LaunchSpec): Promise<void> {
    const { instanceId } = spec;
    const settings = this.#settings;
    const { log } = settings;
    const hooks: GuestHooks = {
      line: (stream, line) => {
        if (log !== undefined) isolate(() => log(instanceId, stream, line));
      },
      exited: (exit) => {
        if (this.#entries.get(instanceId) === entry) this.#entries.delete(instanceId);
        this.#emit({ kind: "exited", instanceId, requested: exit.requested, code: exit.code, detail: exit.detail });
      },
    };
    // Deferred a microtask, so it may refer to `entry`, which holds it.
    const launch = Promise.resolve().then(async () => {
      const runs =
        spec.command === undefined
          ? await resolveImage(spec.image, settings.imageRoot, instanceId)
          : await resolveExecutable(spec.command[0], settings.imageRoot, guestEnv(spec, settings).PATH, instanceId);
      if (this.#closing !== undefined) throw closedError(instanceId);
      const guest = await launchGuest(guestCommand(spec, runs, settings), settings, hooks);
      entry.guest = guest;
      this.#emit({ kind: "started", instanceId, detail: `pid ${guest.pid} runs ${runs}` });
      return guest;
    });
    const entry: Entry = { spec, launch, guest: undefined };
    this.#entries.set(instanceId, entry);
    return entry.launch.then(
      () => undefined,
      (cause: unknown) => {
        if (this.#entries.get(instanceId) === entry) this.#entries.delete(instanceId);
        throw cause;
      },
    );
  }

  #emit(event: DriverEvent): void {
    this.#listeners.emit(event);
  }
}

function closedError(instanceId: string): FroctalError {
  return new FroctalError("FROCTAL_E_CLOSED", `the process driver is closed; instance ${instanceId} was not started`);
}
