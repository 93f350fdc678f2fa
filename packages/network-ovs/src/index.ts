/**
 * @froctal/network-ovs: OpenFlow on Open vSwitch, through `ovs-vsctl` and `ovs-ofctl`.
 *
 *   network.ts      openOvsNetwork: guests joined with pool addresses, and the NetworkDriver (prepare/commit/abort, converge loop)
 *   guests.ts       the network's guests: join/leave (a GuestNetwork), found again on the bridge after a restart
 *   flows.ts        a NetworkSpec as flows and select groups: ARP responder, conntrack NAT to a select group, routes
 *   addresses.ts    IPv4 numbers, prefixes, the guests' address pool, MACs derived from addresses
 *   ovs.ts          openOvs: bridges up (checked), flows and groups read back, one owner's state converged in one bundle
 *   guest-ports.ts  openGuestPorts: a guest's network namespace plugged into a bridge by a veth, and unplugged
 *   guest-spec.ts   a guest port's spec checked (address, MAC, bridge), and the names derived from its instance id
 *   ip.ts           the door to `ip` and `ethtool` (execFile), and netnsCommand: `ip netns exec NAME ...argv`
 *   plan.ts         the level-triggered diff of one owner's flows and select groups, as bundle lines
 *   parse.ts        what `dump-flows`, `dump-groups` and `parse-flows` print, as plain objects
 *   run.ts          the one door to the tools (execFile), and their failures as FroctalErrors
 *   state.ts        the desired network state: flows, select groups, the owner (cookie, group ids)
 */

export type { NetworkGuest } from "./flows.js";
export { type GuestPort, type GuestPorts, type GuestPortsOptions, openGuestPorts } from "./guest-ports.js";
export { GUEST_INTERFACE, type GuestPortNames, type GuestPortSpec, guestPortNames } from "./guest-spec.js";
export type { OvsGuests } from "./guests.js";
export { type Argv, type IpOptions, netnsCommand } from "./ip.js";
export {
  DEFAULT_OWNER,
  type OvsNetwork,
  type OvsNetworkOptions,
  type OvsNetworkStats,
  openOvsNetwork,
} from "./network.js";
export { type Ovs, openOvs } from "./ovs.js";
export type { Changes, Staged } from "./plan.js";
export type { OvsOptions } from "./run.js";
export type { Bucket, DumpedFlow, DumpedGroup, Flow, NetworkState, Owner, SelectGroup } from "./state.js";
