import type { Disposer, Driver, DriverEvent, FleetIdentity, LaunchSpec, StopOptions } from "@froctal/manager";
import { Listeners } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { DomainState } from "@unraid/libvirt";
import { closedError, failureOf } from "./errors.js";
import { Host, isLocal } from "./host.js";
import { domainIdentity } from "./identity.js";
import { type InstanceState, isActive, type LibvirtObservedInstance, observed, type Tracked } from "./instance.js";
import { Lanes } from "./lanes.js";
import { Nics, withNic } from "./nic.js";
import { gracePeriod, type LibvirtDriverOptions, type Settings, settingsFrom } from "./options.js";
import { ownershipOf, sameInstance } from "./ownership.js";
import { type Need, place } from "./placement.js";
import { Poller } from "./poll.js";
import { destroy, shutDown } from "./shutdown.js";
import { absorb, createSite, type InstanceBook, loadOf, type Site, unmarked } from "./site.js";
import { commandRefused, renderDomain } from "./template.js";
import { attachDevice, detachDevice } from "./virsh.js";

/** The Driver port, plus device hot-plug (through virsh) and a list() that says where each domain is. */
export interface LibvirtDriver extends Driver {
  list(fleet: FleetIdentity): Promise<readonly LibvirtObservedInstance[]>;
  /** Hot-plugs a device (one device element of domain XML) into a running instance. */
  attachDevice(instanceId: string, deviceXml: string): Promise<void>;
  /** Hot-unplugs a device from a running instance. */
  detachDevice(instanceId: string, deviceXml: string): Promise<void>;
  /**
   * The channel socket of every running instance on a local host (a qemu:///
   * or test:/// URI: a remote host's sockets are on that host), for the bridge.
   */
  channels(): { readonly instanceId: string; readonly path: string }[];
  /** True if it was given a network: every domain it creates gets a NIC on it. */
  readonly joinsNetwork: boolean;
}

/**
 * The libvirt driver: every instance is a transient domain, made from its
 * service's template, on one of several hosts. See the package README for
 * why lifecycle is observed by polling and devices go through virsh.
 */
export function createLibvirtDriver(options: LibvirtDriverOptions): LibvirtDriver {
  return new LibvirtDriverImpl(settingsFrom(options));
}

class LibvirtDriverImpl implements LibvirtDriver {
  readonly name = "libvirt";
  readonly #settings: Settings;
  readonly #sites: Map<string, Site>;
  readonly #tracked = new Map<string, Tracked>();
  readonly #listeners = new Listeners<DriverEvent>();
  /**
   * The fleet ids this driver serves (asked about through start() or list()):
   * only domains carrying one of them are its instances, tracked, reported
   * and ever stopped. A fleet's name proves nothing: two fleets may share it.
   */
  readonly #fleets = new Set<string>();
  readonly #lanes = new Lanes();
  /** Counts the driver's own changes, so a listing can tell which of them it predates. */
  #changes = 0;
  readonly #book: InstanceBook = {
    tracked: this.#tracked,
    fleets: this.#fleets,
    busy: (t, since) => this.#busy(t, since),
    update: (t, state, detail) => this.#update(t, state, detail),
  };
  readonly #poller: Poller;
  #closing: Promise<void> | undefined;

  readonly #nics: Nics;
  readonly joinsNetwork: boolean;

  constructor(settings: Settings) {
    this.#settings = settings;
    this.#nics = new Nics(settings.nics);
    this.joinsNetwork = this.#nics.enabled;
    const hostSettings = {
      clock: settings.clock,
      gate: settings.gate,
      callTimeoutMs: settings.callTimeoutMs,
      connect: settings.connect,
    };
    this.#sites = new Map(settings.uris.map((uri) => [uri, createSite(new Host(uri, hostSettings))]));
    this.#poller = new Poller({
      clock: settings.clock,
      pollMs: settings.pollMs,
      onPollError: settings.onPollError,
      sites: () => this.#sites.values(),
      refresh: (site) => this.#refreshSite(site),
    });
    this.#poller.schedule(0);
  }

  start(spec: LaunchSpec): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError(`instance ${spec.instanceId} was not started`));
    return this.#lanes.run(spec.instanceId, "start", () => this.#start(spec));
  }

  stop(instanceId: string, options: StopOptions): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError(`instance ${instanceId} was not stopped`));
    const graceMs = gracePeriod(options.graceMs);
    return this.#lanes.run(instanceId, "stop", () => this.#stop(instanceId, graceMs));
  }

  /**
   * The domains carrying the fleet's id, and those an earlier driver marked
   * with the fleet's name and no id (fleetId undefined: never tracked, so
   * never stopped by this driver).
   */
  async list(fleet: FleetIdentity): Promise<readonly LibvirtObservedInstance[]> {
    if (this.#closing !== undefined) throw closedError(`fleet ${fleet.name} was not listed`);
    this.#fleets.add(fleet.id);
    await this.#poller.round();
    this.#requireListed(`the instances of fleet ${fleet.name} cannot all be known`);
    const ours = [...this.#tracked.values()].filter((t) => t.ownership.fleetId === fleet.id && t.state !== "gone");
    const unproven = [...this.#sites.values()].flatMap((site) => unmarked(site, fleet.name));
    return [...ours.map(observed), ...unproven];
  }

  watch(listener: (event: DriverEvent) => void): Disposer {
    if (this.#closing !== undefined) return () => {};
    return this.#listeners.add(listener);
  }

  channels(): { readonly instanceId: string; readonly path: string }[] {
    const out: { instanceId: string; path: string }[] = [];
    for (const t of this.#tracked.values()) {
      if (t.state !== "running" || !isLocal(t.uri)) continue;
      out.push({ instanceId: t.instanceId, path: `${this.#settings.channelDir}/${t.name}.sock` });
    }
    return out;
  }

  attachDevice(instanceId: string, deviceXml: string): Promise<void> {
    return this.#device(instanceId, deviceXml, attachDevice, "attached to");
  }

  detachDevice(instanceId: string, deviceXml: string): Promise<void> {
    return this.#device(instanceId, deviceXml, detachDevice, "detached from");
  }

  /**
   * Stops polling and reporting, refuses new calls, lets the starts and stops
   * under way finish, and closes the connections. The domains keep running:
   * the next driver adopts them through list().
   */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      const polled = this.#poller.stop();
      this.#listeners.clear();
      this.#closing = (async () => {
        await this.#lanes.settled();
        await polled;
        await this.#nics.settled();
        await Promise.all([...this.#sites.values()].map((site) => site.host.close()));
      })();
    }
    return this.#closing;
  }

  async #start(spec: LaunchSpec): Promise<void> {
    const { instanceId } = spec;
    if (spec.command !== undefined) throw commandRefused(spec);
    const template = this.#settings.templates.get(spec.image);
    if (template === undefined) {
      const known = [...this.#settings.templates.keys()].join(", ");
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `instance ${instanceId} asks for the domain template "${spec.image}"; the libvirt driver has ${known}`,
      );
    }
    await this.#serve(spec.fleetId);
    const found = await this.#find(instanceId);
    if (found !== undefined && isActive(found.state)) return;
    // A stopped or crashed domain of this instance is started again in place, under its own name and UUID.
    const identity =
      found === undefined
        ? domainIdentity(spec.fleet, spec.fleetId, instanceId)
        : { name: found.name, uuid: found.uuid };
    const ownership = ownershipOf(spec);
    const channelPath = `${this.#settings.channelDir}/${identity.name}.sock`;
    const domain = renderDomain(spec.image, template, { spec, identity, channelPath, ownership });
    const need: Need = { memoryKiB: domain.memoryKiB, vcpus: domain.vcpus };
    const site = this.#place(need, found?.uri);
    // Reserved at once, before any await, so that concurrent starts see each other.
    const { reserved } = site;
    reserved.memoryKiB += need.memoryKiB;
    reserved.vcpus += need.vcpus;
    reserved.count += 1;
    try {
      await this.#ready(site);
      const now = this.#tracked.get(instanceId);
      if (now !== undefined && isActive(now.state)) return; // the listing after a reconnect found it running
      if (now?.state === "crashed") await destroy(site.host, now);
      const entry: Tracked = now ?? {
        instanceId,
        ownership,
        uri: site.host.uri,
        name: identity.name,
        uuid: identity.uuid,
        state: "gone",
        reportedActive: false,
        stopRequested: false,
        touched: 0,
      };
      Object.assign(entry, { ownership, uri: site.host.uri, name: identity.name, uuid: identity.uuid });
      entry.stopRequested = false;
      this.#touch(entry);
      this.#tracked.set(instanceId, entry);
      // The network's NIC, if any, made first; removed again if the domain is not made.
      await this.#nics.plugged(instanceId, (nic) => this.#create(site, entry, withNic(domain.xml, nic)));
      const owner = { name: identity.name, ownership };
      site.host.remember(identity.uuid, owner);
      site.records.set(identity.uuid, { uuid: identity.uuid, state: DomainState.RUNNING, ...need, owner });
      this.#touch(entry);
      this.#update(entry, "running", `domain ${identity.name} runs on ${site.host.uri}`);
    } finally {
      reserved.memoryKiB -= need.memoryKiB;
      reserved.vcpus -= need.vcpus;
      reserved.count -= 1;
    }
  }

  async #create(site: Site, entry: Tracked, xml: string): Promise<void> {
    try {
      await site.host.call(`creating domain ${entry.name} on ${site.host.uri}`, (c) => c.domainCreateXML(xml));
    } catch (error) {
      // A create repeated after a timeout or a crash: the domain is there, and it is this instance's.
      if (failureOf(error) === "exists" && (await this.#isOurs(site, entry))) return;
      // After a timeout the domain may exist: the entry stays, and the next listing settles it.
      if (failureOf(error) !== "stalled" && entry.state === "gone" && this.#tracked.get(entry.instanceId) === entry) {
        this.#tracked.delete(entry.instanceId);
      }
      throw error;
    }
  }

  async #stop(instanceId: string, graceMs: number): Promise<void> {
    const found = await this.#find(instanceId);
    if (found === undefined || !(isActive(found.state) || found.state === "crashed")) return;
    const site = this.#site(found.uri);
    await this.#ready(site);
    const t = this.#tracked.get(instanceId);
    if (t === undefined || !(isActive(t.state) || t.state === "crashed")) return;
    t.stopRequested = true;
    this.#touch(t);
    const { host } = site;
    const domain = await host.lookup(t.uuid);
    const end =
      domain === undefined
        ? { state: "gone" as const, how: "was already gone" }
        : await shutDown(host, t, domain, graceMs, this.#settings.clock, Math.min(this.#settings.pollMs, 200));
    this.#touch(t);
    if (end.state === "gone") site.records.delete(t.uuid);
    else this.#setRecordState(site, t.uuid, DomainState.SHUTOFF);
    this.#update(t, end.state, `domain ${t.name} on ${host.uri} ${end.how}`);
    if (end.state === "gone" && this.#tracked.get(instanceId) === t) this.#tracked.delete(instanceId);
  }

  async #isOurs(site: Site, entry: Tracked): Promise<boolean> {
    const domain = await site.host.lookup(entry.uuid);
    const owner = domain === undefined ? undefined : await site.host.ownerOf(domain, entry.name);
    if (owner !== undefined && sameInstance(owner.ownership, entry.ownership)) return true;
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `a domain named ${entry.name} that is not instance ${entry.instanceId}'s already exists on ${site.host.uri}`,
    );
  }

  async #device(
    instanceId: string,
    xml: string,
    change: typeof attachDevice,
    verb: "attached to" | "detached from",
  ): Promise<void> {
    if (this.#closing !== undefined) throw closedError(`no device was ${verb} instance ${instanceId}`);
    const t = await this.#find(instanceId);
    if (t === undefined || !isActive(t.state)) {
      throw new FroctalError(
        "FROCTAL_E_NOT_FOUND",
        `instance ${instanceId} does not run, so no device can be ${verb} it`,
      );
    }
    const { virsh, virshTimeoutMs } = this.#settings;
    await change({ uri: t.uri, domain: t.uuid, xml, virsh, timeoutMs: virshTimeoutMs });
  }

  /**
   * Serves a fleet id from now on. The listings so far passed over its
   * domains, so the hosts are listed again before any of them is acted on.
   */
  async #serve(fleetId: string): Promise<void> {
    if (this.#fleets.has(fleetId)) return;
    this.#fleets.add(fleetId);
    await this.#poller.round();
  }

  /**
   * The instance, wherever it is. Lists the hosts never listed yet first; if
   * one still cannot be, the instance might be running there unseen, and
   * starting it elsewhere could make a second one: refused, retryably.
   */
  async #find(instanceId: string): Promise<Tracked | undefined> {
    const known = this.#tracked.get(instanceId);
    if (known !== undefined && known.state !== "gone") return known;
    const unlisted = [...this.#sites.values()].filter((site) => !site.everListed);
    await Promise.allSettled(unlisted.map((site) => this.#refreshSite(site)));
    const found = this.#tracked.get(instanceId);
    if (found !== undefined && found.state !== "gone") return found;
    this.#requireListed(`instance ${instanceId} might run there unseen`);
    return found;
  }

  #requireListed(consequence: string): void {
    const unlisted = [...this.#sites.values()].filter((site) => !site.everListed);
    if (unlisted.length === 0) return;
    const why = unlisted.map((s) => `${s.host.uri} (${s.host.lastError?.sentence ?? "not listed yet"})`).join(", ");
    throw new FroctalError("FROCTAL_E_TRANSPORT", `the libvirt driver could not list ${why} yet; ${consequence}`, {
      retryable: true,
    });
  }

  /** Where a new domain goes: its old host if it has one, else the spread rule over every host. */
  #place(need: Need, sticky: string | undefined): Site {
    const candidates = sticky === undefined ? [...this.#sites.values()] : [this.#site(sticky)];
    const chosen = place(candidates.map(loadOf), need, this.#settings.overcommit);
    if (chosen instanceof FroctalError) throw chosen;
    return this.#site(chosen);
  }

  /** Connected, and listed on this connection: after a reconnect the world may have changed, so look before acting. */
  async #ready(site: Site): Promise<void> {
    await site.host.connection();
    if (site.listedEpoch !== site.host.epoch) await this.#refreshSite(site);
    if (site.listedEpoch !== site.host.epoch) {
      throw new FroctalError("FROCTAL_E_TRANSPORT", `${site.host.uri} reconnected while being listed; try again`, {
        retryable: true,
      });
    }
  }

  #refreshSite(site: Site): Promise<void> {
    if (site.refreshing === undefined) {
      const since = this.#changes;
      site.refreshing = site.host
        .list()
        .then((listing) => absorb(site, listing, since, this.#book))
        .finally(() => {
          site.refreshing = undefined;
        });
    }
    return site.refreshing;
  }

  /**
   * While a start or stop of an instance is under way, it alone speaks for the
   * instance (its report says how it ended); a listing begun before the
   * driver's last change to it is out of date for it.
   */
  #busy(t: Tracked, since: number): boolean {
    return t.touched > since || this.#lanes.has(t.instanceId);
  }

  /** Records the new state and reports it when it crosses the line between running and not. */
  #update(t: Tracked, state: InstanceState | "gone", detail: string): void {
    t.state = state;
    // A domain gone is a tap no one holds; a stopped one (defined, persistent) may start again on it.
    if (state === "gone") this.#nics.leave(t.instanceId);
    const active = isActive(state);
    if (active === t.reportedActive) return;
    t.reportedActive = active;
    const requested = t.stopRequested;
    if (!active) t.stopRequested = false;
    if (t.ownership.fleetId === undefined || !this.#fleets.has(t.ownership.fleetId)) return;
    this.#emit(
      active
        ? { kind: "started", instanceId: t.instanceId, detail }
        : { kind: "exited", instanceId: t.instanceId, requested, code: null, detail },
    );
  }

  #touch(t: Tracked): void {
    this.#changes += 1;
    t.touched = this.#changes;
  }

  #setRecordState(site: Site, uuid: string, state: DomainState): void {
    const record = site.records.get(uuid);
    if (record !== undefined) site.records.set(uuid, { ...record, state });
  }

  #site(uri: string): Site {
    const site = this.#sites.get(uri);
    if (site === undefined) throw new FroctalError("FROCTAL_E_INTERNAL", `no host ${uri} in this driver`);
    return site;
  }

  #emit(event: DriverEvent): void {
    this.#listeners.emit(event);
  }
}
