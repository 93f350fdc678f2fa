/**
 * The network state one owner (one cookie, one range of group ids) wants on a
 * bridge, as plain values; matches and actions are OpenFlow text as `ovs-ofctl`
 * reads it (`ip,nw_dst=10.0.0.1`, `group:7`).
 */
export interface Flow {
  readonly table: number;
  readonly priority: number;
  /** Comma-separated match fields, `""` for every packet. */
  readonly match: string;
  readonly actions: string;
}

/**
 * One backend of a select group. Its id must stay the backend's for as long as it
 * is one: hash selection picks by bucket id, so removing a bucket moves only the
 * connections that bucket had.
 */
export interface Bucket {
  readonly id: number;
  readonly actions: string;
}

/**
 * A `select` group: `selection_method=hash,fields(ip_src,tcp_src)` (a bucket change
 * does not reset the other buckets' connections) and every bucket `weight:1` (an
 * inserted bucket without a weight gets no traffic).
 */
export interface SelectGroup {
  readonly id: number;
  readonly buckets: readonly Bucket[];
}

export interface NetworkState {
  readonly flows: readonly Flow[];
  readonly groups: readonly SelectGroup[];
}

/** Who writes: the flows with this cookie and the groups with ids in [min, max] are this owner's, nothing else. */
export interface Owner {
  /** Not 0 (the cookie of flows nobody marked), below 2^64. */
  readonly cookie: bigint;
  /** OpenFlow groups carry no cookie, so an owner owns a range of group ids instead. */
  readonly groupIds: { readonly min: number; readonly max: number };
}

/** A flow as `dump-flows` shows it; `extra` holds what this adapter never writes (timeouts, flags), `""` if none. */
export interface DumpedFlow extends Flow {
  readonly cookie: bigint;
  readonly extra: string;
}

/** A group as `dump-groups` shows it; `properties` is what follows `type=` before the buckets. */
export interface DumpedGroup {
  readonly id: number;
  readonly type: string;
  readonly properties: string;
  readonly buckets: readonly {
    readonly id: number;
    readonly weight: number;
    readonly extra: string;
    readonly actions: string;
  }[];
}

export const SELECTION = "selection_method=hash,fields(ip_src,tcp_src)";

/** What identifies a flow in its table for OpenFlow's strict add and delete. */
export function flowKey(flow: Flow): string {
  return `${flow.table}/${flow.priority}/${flow.match}`;
}

/** One order for a state (tables up, priorities down, matches, group ids): the switch dumps in an order of its own. */
export function sortState(state: NetworkState): NetworkState {
  return {
    flows: [...state.flows].sort(
      (a, b) => a.table - b.table || b.priority - a.priority || (a.match < b.match ? -1 : a.match > b.match ? 1 : 0),
    ),
    groups: [...state.groups].sort((a, b) => a.id - b.id),
  };
}
