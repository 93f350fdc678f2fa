import type { DomainRecord, Host, Listing } from "./host.js";
import {
  holdsResources,
  type InstanceState,
  instanceState,
  isActive,
  type LibvirtObservedInstance,
  type Tracked,
} from "./instance.js";
import type { HostLoad } from "./placement.js";

/** One host and the driver's view of it. */
export interface Site {
  readonly host: Host;
  /** Every domain on the host, as last listed, amended by the driver's own creates and stops since. */
  records: Map<string, DomainRecord>;
  everListed: boolean;
  /** The connection epoch of the last listing: a destructive call waits for one on the current connection. */
  listedEpoch: number;
  /** Fleet ids whose domains a listing of this host has taken in: a later listing announces what is new. */
  readonly fleetsListed: Set<string>;
  /** Starts placed here and not yet created: counted as if they ran, so concurrent starts do not overfill it. */
  readonly reserved: { memoryKiB: number; vcpus: number; count: number };
  refreshing: Promise<void> | undefined;
}

export function createSite(host: Host): Site {
  return {
    host,
    records: new Map(),
    everListed: false,
    listedEpoch: 0,
    fleetsListed: new Set(),
    reserved: { memoryKiB: 0, vcpus: 0, count: 0 },
    refreshing: undefined,
  };
}

/** What placement needs: every active domain's memory and vCPUs (froctal's or not), reservations included. */
export function loadOf(site: Site): HostLoad {
  let usedMemoryKiB = site.reserved.memoryKiB;
  let usedVcpus = site.reserved.vcpus;
  let instances = site.reserved.count;
  for (const r of site.records.values()) {
    if (!holdsResources(r.state)) continue;
    usedMemoryKiB += r.memoryKiB;
    usedVcpus += r.vcpus;
    if (r.owner !== undefined && isActive(instanceState(r.state))) instances += 1;
  }
  const { host } = site;
  return {
    uri: host.uri,
    usable: site.everListed && host.available,
    memoryKiB: host.memoryKiB,
    cpus: host.cpus,
    usedMemoryKiB,
    usedVcpus,
    instances,
  };
}

/**
 * The domains on this host, as last listed, that an earlier driver made for
 * a fleet of this name and marked with no fleet id: never tracked, so never
 * stopped; listed so that the fleet's manager can say why it leaves them be.
 */
export function unmarked(site: Site, fleet: string): LibvirtObservedInstance[] {
  const found: LibvirtObservedInstance[] = [];
  for (const r of site.records.values()) {
    if (r.owner === undefined) continue;
    const { name, ownership } = r.owner;
    if (ownership.fleetId !== undefined || ownership.fleet !== fleet) continue;
    const { instanceId, service } = ownership;
    const state = instanceState(r.state);
    found.push({
      instanceId,
      fleet,
      fleetId: undefined,
      service,
      state,
      uri: site.host.uri,
      domain: name,
      uuid: r.uuid,
    });
  }
  return found;
}

/** The driver's instances, as absorb() reads and changes them. */
export interface InstanceBook {
  readonly tracked: Map<string, Tracked>;
  /** The fleet ids the driver serves: only domains carrying one of them are its instances. */
  readonly fleets: ReadonlySet<string>;
  /** The driver speaks for this instance, not a listing begun when the change counter stood at `since`. */
  busy(t: Tracked, since: number): boolean;
  /** Records a state and reports it if it crosses the line between running and not. */
  update(t: Tracked, state: InstanceState | "gone", detail: string): void;
}

const STATE_DETAIL: Record<InstanceState, string> = {
  running: "is running",
  paused: "is paused",
  stopped: "shut off",
  crashed: "crashed",
};

/**
 * Takes in a listing begun when the change counter stood at `since`: the
 * host's records, then the state of each instance of a fleet the driver
 * serves, reporting what changed. Domains of other fleet ids, and those that
 * carry no fleet id, stay records only: counted for placement, never
 * tracked, reported or stopped. Instances the driver is busy with keep what
 * the driver says. The first listing of a host that takes in a fleet's
 * domains is its baseline: what runs there is adopted (list() reports it),
 * not announced.
 */
export function absorb(site: Site, listing: Listing, since: number, book: InstanceBook): void {
  const { uri } = site.host;
  const { tracked } = book;
  const previous = site.records;
  const records = new Map(listing.records.map((r) => [r.uuid, r]));
  for (const t of tracked.values()) {
    if (t.uri !== uri || !book.busy(t, since)) continue;
    const kept = previous.get(t.uuid);
    if (kept === undefined) records.delete(t.uuid);
    else records.set(t.uuid, kept);
  }
  site.records = records;
  site.everListed = true;
  site.listedEpoch = listing.epoch;
  const seen = new Set<string>();
  for (const r of records.values()) {
    if (r.owner === undefined) continue;
    const { ownership, name } = r.owner;
    const { fleetId } = ownership;
    if (fleetId === undefined || !book.fleets.has(fleetId)) continue;
    const id = ownership.instanceId;
    let t = tracked.get(id);
    if (t !== undefined && book.busy(t, since)) {
      seen.add(id);
      continue;
    }
    // Known elsewhere, or as another domain here: the first sighting stands; two domains of one instance are not ours to pick from.
    if (t !== undefined && t.state !== "gone" && (t.uri !== uri || t.uuid !== r.uuid)) continue;
    const state = instanceState(r.state);
    if (t === undefined) {
      const reportedActive = !site.fleetsListed.has(fleetId) && isActive(state);
      t = {
        instanceId: id,
        ownership,
        uri,
        name,
        uuid: r.uuid,
        state,
        reportedActive,
        stopRequested: false,
        touched: 0,
      };
      tracked.set(id, t);
    }
    Object.assign(t, { ownership, uri, name, uuid: r.uuid });
    seen.add(id);
    book.update(t, state, `domain ${name} on ${uri} ${STATE_DETAIL[state]}`);
  }
  for (const t of [...tracked.values()]) {
    if (t.uri !== uri || book.busy(t, since) || seen.has(t.instanceId)) continue;
    book.update(t, "gone", `domain ${t.name} on ${uri} is gone`);
    tracked.delete(t.instanceId);
  }
  for (const fleetId of book.fleets) site.fleetsListed.add(fleetId);
}
