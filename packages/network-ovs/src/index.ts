/**
 * @froctal/network-ovs: OpenFlow on Open vSwitch, through `ovs-vsctl` and `ovs-ofctl`.
 *
 *   ovs.ts    openOvs: bridges up (checked), flows and groups read back, one owner's state converged in one bundle
 *   plan.ts   the level-triggered diff of one owner's flows and select groups, as bundle lines
 *   parse.ts  what `dump-flows`, `dump-groups` and `parse-flows` print, as plain objects
 *   run.ts    the one door to the tools (execFile), and their failures as FroctalErrors
 *   state.ts  the desired network state: flows, select groups, the owner (cookie, group ids)
 */
export { type Ovs, openOvs } from "./ovs.js";
export type { Changes, Staged } from "./plan.js";
export type { OvsOptions } from "./run.js";
export type { Bucket, DumpedFlow, DumpedGroup, Flow, NetworkState, Owner, SelectGroup } from "./state.js";
