/**
 * @froctal/driver-hosts: the manager's side of its hosts.
 *
 *   hosts-driver.ts  HostsDriver: the Driver port over every host (placement, forwarding, lost hosts)
 *   host.ts          one host across its connections: placed instances, actions in flight by key
 *   placement.ts     where a new instance runs (needs, spread, capacity, the fleet's hook)
 *   endpoint.ts      the /host WebSocket door: hello, credential, frames in and out, refusals counted
 *   local-host.ts    a Driver of the manager's own process joined as a host (the embedded default)
 *   hosts-network.ts HostsNetwork: the NetworkDriver over the hosts' networks (each given its guests' part)
 *   credential.ts    each host's credential, derived from the fleet's host secret
 *   vouch.ts         a host relaying its guest's channel to /agent: checked against credential and placement
 *   wire.ts          host.proto frames <-> the Driver port's values
 */
export { checkCredential, hostCredential } from "./credential.js";
export { attachHostsEndpoint, type HostsEndpointOptions } from "./endpoint.js";
export type { HostInfo, HostStatus } from "./host.js";
export { type HostSummary, HostsDriver, type HostsDriverOptions, type HostsStats } from "./hosts-driver.js";
export { HostsNetwork, type HostsNetworkOptions } from "./hosts-network.js";
export { joinLocalHost } from "./local-host.js";
export { place } from "./placement.js";
export { vouchFor } from "./vouch.js";
