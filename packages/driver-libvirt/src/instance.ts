import type { ObservedInstance } from "@froctal/manager";
import { DomainState } from "@unraid/libvirt";
import type { Ownership } from "./ownership.js";

export type InstanceState = ObservedInstance["state"];

/** An instance as the driver tracks it: where it is, what it was last seen doing, what was last reported. */
export interface Tracked {
  readonly instanceId: string;
  ownership: Ownership;
  /** The host it runs on: placement, remembered. */
  uri: string;
  /** The domain's name (froctal's own, or the one an adopted domain has) and UUID. */
  name: string;
  uuid: string;
  /** "gone" once the domain no longer exists on its host. */
  state: InstanceState | "gone";
  /** Whether the last event about it (or the first listing that found it) said it runs. */
  reportedActive: boolean;
  /** stop() was called since it last started: its exit is reported as requested. */
  stopRequested: boolean;
  /** The driver's change counter at its last start or stop step; listings begun before then skip it. */
  touched: number;
}

/** What list() returns: the port's fields, and where the domain is and what its metadata says. */
export interface LibvirtObservedInstance extends ObservedInstance {
  readonly uri: string;
  readonly domain: string;
  readonly uuid: string;
}

/** libvirt's view of a domain, in the port's words: being shut down still counts as running. */
export function instanceState(state: DomainState): InstanceState {
  switch (state) {
    case DomainState.PAUSED:
    case DomainState.PMSUSPENDED:
      return "paused";
    case DomainState.SHUTOFF:
      return "stopped";
    case DomainState.CRASHED:
      return "crashed";
    default:
      return "running";
  }
}

/** Running or paused: it holds its resources and may carry on. */
export function isActive(state: InstanceState | "gone"): boolean {
  return state === "running" || state === "paused";
}

/** The domain holds memory and vCPUs unless shut off (a crashed QEMU domain left for inspection still does). */
export function holdsResources(state: DomainState): boolean {
  return state !== DomainState.SHUTOFF;
}

export function observed(t: Tracked): LibvirtObservedInstance {
  return {
    instanceId: t.instanceId,
    fleet: t.ownership.fleet,
    fleetId: t.ownership.fleetId,
    service: t.ownership.service,
    state: t.state === "gone" ? "stopped" : t.state,
    uri: t.uri,
    domain: t.name,
    uuid: t.uuid,
  };
}
