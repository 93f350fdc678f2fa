/**
 * @froctal/ovs-switch: a private Open vSwitch for tests and benchmarks.
 *
 *   private-ovs.ts  startPrivateOvs: an ovsdb-server and an ovs-vswitchd of their own in a temp dir
 */
export { OVS_BIN_DIR, type PrivateOvs, startPrivateOvs } from "./private-ovs.js";
