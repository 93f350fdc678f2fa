/**
 * @froctal/host: `froctal host`, the daemon on each machine.
 *
 *   daemon.ts    HostDaemon: runs the manager's actions on this machine's driver, reports guests and events
 *   link.ts      the connection to the manager: dial, hello, welcome, redial
 *   outcomes.ts  idempotence by action key: in flight joined, answered answered again
 *   channel-relay.ts  a guest's channel relayed to the manager's /agent, vouched for by this host
 *   manager-relay.ts  guests on the host's own network reach the manager through it (TCP, byte for byte)
 *   wire.ts      host.proto frames <-> the Driver port's values
 */
export { ChannelRelay, type ChannelRelayOptions } from "./channel-relay.js";
export { HostDaemon, type HostDaemonOptions } from "./daemon.js";
export type { HostInfo } from "./link.js";
export { type ManagerRelay, type ManagerRelayOptions, openManagerRelay } from "./manager-relay.js";
