/**
 * An in-memory StateStore for pure-logic tests: what a restarted manager would
 * read back, without a file. The real one is @froctal/state-sqlite.
 */
import type { FleetState, InstanceRecord, StateStore } from "@froctal/manager";

export class MemoryState implements StateStore {
  /** Each fleet's id, made at its first load as a real store makes it. */
  readonly fleetIds = new Map<string, string>();
  readonly hostSecrets = new Map<string, string>();
  readonly hosts = new Map<string, Set<string>>();
  readonly generations = new Map<string, number>();
  readonly ordinals = new Map<string, number>();
  readonly instances = new Map<string, Map<string, InstanceRecord>>();
  writes = 0;

  load(fleet: string): FleetState {
    let fleetId = this.fleetIds.get(fleet);
    if (fleetId === undefined) {
      fleetId = Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString("hex");
      this.fleetIds.set(fleet, fleetId);
    }
    const hostSecret =
      this.hostSecrets.get(fleet) ?? Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString("hex");
    this.hostSecrets.set(fleet, hostSecret);
    return {
      fleetId,
      hostSecret,
      hosts: [...(this.hosts.get(fleet) ?? [])].sort(),
      reservedGeneration: this.generations.get(fleet) ?? 0,
      lastOrdinal: this.ordinals.get(fleet) ?? 0,
      instances: [...(this.instances.get(fleet)?.values() ?? [])],
    };
  }

  reserveGenerations(fleet: string, upTo: number): void {
    this.writes++;
    this.generations.set(fleet, Math.max(upTo, this.generations.get(fleet) ?? 0));
  }

  reserveOrdinals(fleet: string, upTo: number): void {
    this.writes++;
    this.ordinals.set(fleet, Math.max(upTo, this.ordinals.get(fleet) ?? 0));
  }

  putInstance(fleet: string, record: InstanceRecord): void {
    this.writes++;
    const m = this.instances.get(fleet) ?? new Map<string, InstanceRecord>();
    this.instances.set(fleet, m);
    m.set(record.id, record);
  }

  deleteInstance(fleet: string, instanceId: string): void {
    this.writes++;
    this.instances.get(fleet)?.delete(instanceId);
  }

  putHost(fleet: string, hostId: string): void {
    this.writes++;
    const hosts = this.hosts.get(fleet) ?? new Set<string>();
    this.hosts.set(fleet, hosts);
    hosts.add(hostId);
  }

  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}
