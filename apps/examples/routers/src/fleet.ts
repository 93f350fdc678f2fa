/**
 * The reconfiguration scenario: three routers on one transit network
 * (10.0.0.0/24); B and C each also have a LAN. Every router's routing table
 * is derived from the others' interfaces (routing.ts), so an interface change
 * in A changes B's and C's tables in the same tick, and the rollout gives them
 * the new routes together in one generation, or neither. With a network
 * driver (`--network ovs:BRIDGE`) the switch's routes to the LANs are derived
 * too, and change in the same generation as the tables.
 *
 *   froctal up apps/examples/routers
 *
 * Interfaces are files: $FROCTAL_DEVICE_DIR/<instance>/<nic>.json holding
 * {"address": "10.1.0.1/24"} (FROCTAL_DEVICE_DIR defaults to <tmpdir>/froctal-devices).
 * A router seeds its directory with the interfaces below when it does not exist yet.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineFleet, type ServiceSpec } from "@froctal/manager";
import { routingTable, switchRoutes } from "./routing.js";

const deviceDir = process.env.FROCTAL_DEVICE_DIR || join(tmpdir(), "froctal-devices");
const image = fileURLToPath(import.meta.resolve("@froctal/example-router"));

const SEEDS = {
  "router-a": { eth0: { address: "10.0.0.1/24" } },
  "router-b": { eth0: { address: "10.0.0.2/24" }, eth1: { address: "10.2.0.1/24" } },
  "router-c": { eth0: { address: "10.0.0.3/24" }, eth1: { address: "10.3.0.1/24" } },
} as const;
const ROUTERS = Object.keys(SEEDS);

function router(seed: object): ServiceSpec {
  return {
    image,
    replicas: 1,
    env: { FROCTAL_DEVICE_DIR: deviceDir, FROCTAL_DEVICE_SEED: JSON.stringify(seed) },
    startTimeoutMs: 20_000,
    config: (fleet, self) => routingTable(fleet, self, ROUTERS),
  };
}

export default defineFleet({
  name: "routers",
  services: {
    "router-a": router(SEEDS["router-a"]),
    "router-b": router(SEEDS["router-b"]),
    "router-c": router(SEEDS["router-c"]),
  },
  network: (fleet) => switchRoutes(fleet, ROUTERS, "10.0.0.0/24"),
});
