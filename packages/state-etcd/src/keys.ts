/**
 * Where a fleet's state lives in etcd: everything under `<prefix>fleets/<fleet>/`,
 * one key per fact, so every write is a put or a delete of whole keys and one
 * range read returns a fleet at one revision. Names are percent-encoded, so a
 * fleet or instance id holding "/" can never reach into another's keys.
 */

/** Written into `meta`: a store that finds another version refuses the fleet rather than guess. */
export const FORMAT_VERSION = 1;

/** The default prefix: one etcd cluster can hold other applications' keys beside froctal's. */
export const DEFAULT_PREFIX = "/froctal/";

export interface FleetKeys {
  /** Every key of the fleet starts with this. */
  readonly root: string;
  /** JSON `{ format, fleetId, hostSecret }`, created once by the first load. */
  readonly meta: string;
  /** The reserved generation, a decimal whole number, only ever raised. */
  readonly generation: string;
  /** The highest instance ordinal handed out, a decimal whole number, only ever raised; absent means 0. */
  readonly ordinal: string;
  instance(id: string): string;
  host(id: string): string;
}

export const INSTANCES = "instances/";
export const HOSTS = "hosts/";

export function fleetKeys(prefix: string, fleet: string): FleetKeys {
  const root = `${prefix}fleets/${encodeURIComponent(fleet)}/`;
  return {
    root,
    meta: `${root}meta`,
    generation: `${root}generation`,
    ordinal: `${root}ordinal`,
    instance: (id) => `${root}${INSTANCES}${encodeURIComponent(id)}`,
    host: (id) => `${root}${HOSTS}${encodeURIComponent(id)}`,
  };
}
