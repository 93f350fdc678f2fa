/**
 * The self-scaling scenario with the network programmed instead of a load
 * balancer guest: each web guest runs in a network namespace of its own on an
 * Open vSwitch bridge, listening on 0.0.0.0:8080, and the fleet's network
 * policy serves the ready ones at one virtual IP. Open vSwitch answers ARP for
 * the VIP and spreads new connections over the backends (a select group); a
 * backend leaves the group before it is drained. Needs root and a running
 * ovs-vswitchd:
 *
 *   froctal up apps/examples/autoscale/dist/ovs.js --network ovs:froctal0
 *   curl http://10.77.0.10:8080/
 */
import { defineFleet } from "@froctal/manager";
import autoscale from "./fleet.js";

/** In the default subnet of `--network` (10.77.0.0/24), below the guests' pool (.64 and up). */
export const VIP = "10.77.0.10";
export const PORT = 8080;

export default defineFleet({
  name: "autoscale-ovs",
  services: {
    web: { ...autoscale.services.web, env: { HOST: "0.0.0.0", PORT: String(PORT) } },
  },
  network: (fleet) => ({
    services: { web: { vip: VIP, port: PORT, backends: fleet.service("web").ready.map((i) => i.id) } },
  }),
});
