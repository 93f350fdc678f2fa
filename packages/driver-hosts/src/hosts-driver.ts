/**
 * The Driver port over froctal hosts: start() places a new instance on a host
 * (placement.ts) and forwards the action there; stop() goes to the host that
 * runs the instance; list() asks every host; each host's driver events come
 * back as this driver's events. A host that goes silent keeps its instances
 * for `lostAfterMs`; past that it is lost: its instances are reported exited
 * (so the core replaces them elsewhere) and, if it comes back, are stopped
 * there rather than adopted again.
 */
import type {
  Disposer,
  Driver,
  DriverEvent,
  FleetIdentity,
  FleetSpec,
  LaunchSpec,
  ObservedInstance,
  StopOptions,
} from "@froctal/manager";
import { type Clock, type ErrorCode, FroctalError, Listeners } from "@froctal/primitives";
import { Host, type HostInfo, type HostLink } from "./host.js";
import { place } from "./placement.js";

export interface HostsDriverOptions {
  /** The fleet: its services' `needs` and its `placement` hook. */
  readonly fleet: FleetSpec;
  /** The fleet's identity: hosts report only guests carrying its id. */
  readonly identity: FleetIdentity;
  /** Hosts that joined the fleet before (from the manager's state): list() waits for them. */
  readonly knownHosts: readonly string[];
  /** Called when a host joins for the first time, to record it (StateStore.putHost). */
  readonly onJoin?: (hostId: string) => void;
  readonly clock: Clock;
  /** How long a host may stay silent before it is lost, ms; also how long list() waits for known hosts. Default 10 s. */
  readonly lostAfterMs?: number;
  /** How long an action may go without an outcome before it fails with FROCTAL_E_TIMEOUT, ms. Default 30 s. */
  readonly actionTimeoutMs?: number;
  /** Hears what happens to hosts (joined, silent, lost, back), a sentence each. */
  readonly log?: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

/** What the hosts endpoint and status read. */
export interface HostsStats {
  /** Frames, hellos and claims refused, by code. */
  readonly rejected: Map<ErrorCode, number>;
}

export interface HostSummary {
  readonly id: string;
  readonly status: "up" | "silent" | "lost";
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly features: readonly string[];
  readonly drivers: readonly string[];
  readonly guests: number;
}

export class HostsDriver implements Driver {
  readonly name = "hosts";
  readonly stats: HostsStats = { rejected: new Map() };
  readonly #o: HostsDriverOptions;
  readonly #lostAfterMs: number;
  readonly #actionTimeoutMs: number;
  readonly #hosts = new Map<string, Host>();
  /** Which host runs each instance placed by this driver or reported by a host. */
  readonly #where = new Map<string, Host>();
  readonly #lostTimers = new Map<Host, Disposer>();
  readonly #listeners = new Listeners<DriverEvent>();
  readonly #arrivals = new Listeners<void>();
  readonly #reported = new Listeners<Host>();
  /** Set once list() has run: from then on, a guest a host reports that no one placed is an orphan. */
  #listed = false;
  #closed = false;

  constructor(options: HostsDriverOptions) {
    this.#o = options;
    this.#lostAfterMs = options.lostAfterMs ?? 10_000;
    this.#actionTimeoutMs = options.actionTimeoutMs ?? 30_000;
  }

  get identity(): FleetIdentity {
    return this.#o.identity;
  }

  /** Every host this driver has heard of, for status. */
  hosts(): readonly HostSummary[] {
    return [...this.#hosts.values()].map((h) => ({
      id: h.id,
      status: h.status,
      cpus: h.cpus,
      memoryBytes: h.memoryBytes,
      features: h.features,
      drivers: h.info.drivers,
      guests: h.guests,
    }));
  }

  /** Which host an instance is placed on. */
  hostOf(instanceId: string): string | undefined {
    return this.#where.get(instanceId)?.id;
  }

  /** The hosts that are up and whose guests are on a network of theirs: a network generation's parties. */
  networked(): readonly Host[] {
    return [...this.#hosts.values()].filter((h) => h.status === "up" && (h.info.network ?? "") !== "");
  }

  /** Hears each host that (re)connected once it has reported its guests. */
  onReported(listener: (host: Host) => void): Disposer {
    return this.#reported.add(listener);
  }

  async start(spec: LaunchSpec): Promise<void> {
    if (this.#closed) throw closed(spec.instanceId);
    let host = this.#where.get(spec.instanceId);
    if (host === undefined) {
      const up = [...this.#hosts.values()].filter((h) => h.status === "up");
      host = place(spec.service, this.#o.fleet.services[spec.service]?.needs ?? [], up, this.#o.fleet.placement);
      this.#placeOn(host, spec.instanceId, spec.service);
    }
    try {
      await host.act({ key: `start:${spec.instanceId}`, kind: "start", spec });
    } catch (error) {
      // A refused start left nothing running; one that timed out may yet start, so it stays placed.
      if ((error as FroctalError).code !== "FROCTAL_E_TIMEOUT" && this.#where.get(spec.instanceId) === host) {
        this.#unplace(spec.instanceId);
      }
      throw error;
    }
  }

  async stop(instanceId: string, options: StopOptions): Promise<void> {
    const host = this.#where.get(instanceId);
    if (host === undefined) return;
    await host.act({ key: `stop:${instanceId}`, kind: "stop", instanceId, graceMs: options.graceMs });
    if (this.#where.get(instanceId) === host) this.#unplace(instanceId);
  }

  /**
   * Waits until every known host is up and has reported its guests, or for
   * `lostAfterMs`, then asks every host that is up. Guests on a host that did
   * not come back in time are not listed: the core forgets them, and they are
   * stopped if that host returns.
   */
  async list(fleet: FleetIdentity): Promise<readonly ObservedInstance[]> {
    if (fleet.id !== this.#o.identity.id) return [];
    await this.#allKnownArrived();
    const found: ObservedInstance[] = [];
    for (const host of this.#hosts.values()) {
      if (host.status !== "up" || host.link === undefined) continue;
      let guests: readonly ObservedInstance[];
      try {
        guests = await host.link.inventory(fleet);
      } catch (error) {
        // It left while asked: as if it had not come back in time.
        this.#log(`host ${host.id} did not list its guests: ${(error as Error).message}`, { host: host.id });
        continue;
      }
      for (const guest of guests) {
        if (guest.fleetId === fleet.id && guest.state === "running")
          this.#placeOn(host, guest.instanceId, guest.service);
        found.push(guest);
      }
    }
    this.#listed = true;
    return found;
  }

  watch(listener: (event: DriverEvent) => void): Disposer {
    return this.#listeners.add(listener);
  }

  /** Lets go of every host without stopping a guest: they outlive the manager. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const cancel of this.#lostTimers.values()) cancel();
    this.#lostTimers.clear();
    for (const host of this.#hosts.values()) {
      host.failAll(new FroctalError("FROCTAL_E_CLOSED", `the manager stopped before host ${host.id} answered`));
      host.link?.close();
    }
    this.#listeners.clear();
  }

  // ---- what the endpoint (or the in-process host) tells it ----

  /** A host said hello and proved who it is: it is up from now, and every action in flight is sent again. */
  join(hostId: string, info: HostInfo, link: HostLink): Host {
    let host = this.#hosts.get(hostId);
    if (host === undefined) {
      host = new Host(hostId, info, this.#o.clock, this.#actionTimeoutMs);
      this.#hosts.set(hostId, host);
      if (!this.#o.knownHosts.includes(hostId)) this.#o.onJoin?.(hostId);
    }
    const wasLost = host.status === "lost";
    this.#lostTimers.get(host)?.();
    this.#lostTimers.delete(host);
    const previous = host.link;
    host.connect(link, info);
    previous?.close();
    this.#log(wasLost ? `host ${hostId} is back after it was lost` : `host ${hostId} is up`, { host: hostId, ...info });
    return host;
  }

  /** The host's link ended: it is silent, and lost if it stays so past the grace. */
  leave(host: Host, link: HostLink): void {
    if (!host.disconnect(link) || this.#closed) return;
    this.#log(`host ${host.id} went silent; lost in ${this.#lostAfterMs} ms unless it comes back`, { host: host.id });
    this.#lostTimers.set(
      host,
      this.#o.clock.setTimeout(() => this.#lose(host), this.#lostAfterMs),
    );
  }

  /**
   * The guests a host runs, as it reported them when it (re)connected. What
   * was replaced while it was lost is stopped; what the manager placed there
   * but is no longer running is reported exited; a guest no one placed, once
   * the manager has listed its guests, is stopped (the core has no record of it).
   */
  inventory(host: Host, guests: readonly ObservedInstance[]): void {
    const running = new Set<string>();
    for (const guest of guests) {
      if (guest.fleetId !== this.#o.identity.id || guest.state !== "running") continue;
      const elsewhere = this.#where.get(guest.instanceId);
      if (elsewhere !== undefined && elsewhere !== host) {
        this.reject("FROCTAL_E_AUTH", `host ${host.id} reports ${guest.instanceId}, which runs on ${elsewhere.id}`);
        continue;
      }
      running.add(guest.instanceId);
      if (host.replaced.has(guest.instanceId) || (elsewhere === undefined && this.#listed)) {
        this.#stopStray(host, guest);
      } else {
        this.#placeOn(host, guest.instanceId, guest.service);
      }
    }
    for (const [instanceId] of host.placed) {
      if (running.has(instanceId) || host.replaced.has(instanceId)) continue;
      // A start still in flight has not run yet; it is sent again and reports its own outcome.
      if (host.pending(`start:${instanceId}`)) continue;
      this.#unplace(instanceId);
      this.#emit({
        kind: "exited",
        instanceId,
        requested: false,
        code: null,
        detail: `it was gone when host ${host.id} reconnected`,
      });
    }
    host.inventoried = true;
    this.#arrivals.emit();
    this.#reported.emit(host);
  }

  /** A driver event from a host, about a guest it may speak for: one placed on it. */
  event(host: Host, event: DriverEvent): void {
    const placedOn = this.#where.get(event.instanceId);
    if (placedOn !== host) {
      if (host.replaced.has(event.instanceId)) {
        if (event.kind === "exited") host.replaced.delete(event.instanceId);
        return;
      }
      // A guest placed nowhere that exits (it ended while its host's report was on the way) changes nothing.
      if (placedOn === undefined && event.kind === "exited") return;
      this.reject("FROCTAL_E_AUTH", `host ${host.id} reported ${event.kind} for ${event.instanceId}, not placed on it`);
      return;
    }
    if (event.kind === "exited") this.#unplace(event.instanceId);
    this.#emit(event);
  }

  /** Counts a refusal at the hosts' edge (endpoint.ts counts its own through this too). */
  reject(code: ErrorCode, message: string): void {
    this.stats.rejected.set(code, (this.stats.rejected.get(code) ?? 0) + 1);
    this.#log(`refused: ${code}: ${message}`, { code });
  }

  // ---- inside ----

  #placeOn(host: Host, instanceId: string, service: string): void {
    this.#where.set(instanceId, host);
    host.place(instanceId, service);
  }

  #unplace(instanceId: string): void {
    this.#where.get(instanceId)?.unplace(instanceId);
    this.#where.delete(instanceId);
  }

  #lose(host: Host): void {
    this.#lostTimers.delete(host);
    if (host.status !== "silent") return;
    host.status = "lost";
    const given = [...host.placed.keys()];
    this.#log(`host ${host.id} is lost: silent for ${this.#lostAfterMs} ms; replacing its ${given.length} instances`, {
      host: host.id,
      instances: given,
    });
    host.failAll(new FroctalError("FROCTAL_E_HOST_LOST", `host ${host.id} was lost before it answered`));
    for (const instanceId of given) {
      this.#unplace(instanceId);
      host.replaced.add(instanceId);
      this.#emit({
        kind: "exited",
        instanceId,
        requested: false,
        code: null,
        detail: `host ${host.id} was lost (silent for ${this.#lostAfterMs} ms)`,
      });
    }
    this.#arrivals.emit();
  }

  #stopStray(host: Host, guest: ObservedInstance): void {
    const why = host.replaced.has(guest.instanceId) ? "it was replaced while the host was lost" : "no one placed it";
    this.#log(`stopping ${guest.instanceId} on host ${host.id}: ${why}`, { host: host.id, instance: guest.instanceId });
    const graceMs = this.#o.fleet.services[guest.service]?.stopGraceMs ?? 5_000;
    host.act({ key: `stop:${guest.instanceId}`, kind: "stop", instanceId: guest.instanceId, graceMs }).then(
      () => host.replaced.delete(guest.instanceId),
      (error: unknown) => this.#log(`stopping ${guest.instanceId} on host ${host.id} failed: ${String(error)}`, {}),
    );
  }

  async #allKnownArrived(): Promise<void> {
    const ready = () =>
      this.#o.knownHosts.every((id) => {
        const host = this.#hosts.get(id);
        return host !== undefined && (host.status === "lost" || (host.status === "up" && host.inventoried));
      });
    if (ready()) return;
    const missing = this.#o.knownHosts.filter((id) => this.#hosts.get(id)?.inventoried !== true);
    this.#log(`waiting up to ${this.#lostAfterMs} ms for hosts ${missing.join(", ")} to report their guests`, {
      hosts: missing,
    });
    await new Promise<void>((resolve) => {
      const done = () => {
        stopListening();
        cancel();
        resolve();
      };
      const stopListening = this.#arrivals.add(() => {
        if (ready()) done();
      });
      const cancel = this.#o.clock.setTimeout(done, this.#lostAfterMs);
    });
  }

  #emit(event: DriverEvent): void {
    this.#listeners.emit(event);
  }

  #log(message: string, fields: Readonly<Record<string, unknown>>): void {
    this.#o.log?.(message, fields);
  }
}

function closed(instanceId: string): FroctalError {
  return new FroctalError("FROCTAL_E_CLOSED", `the hosts driver is closed; instance ${instanceId} was not started`);
}
