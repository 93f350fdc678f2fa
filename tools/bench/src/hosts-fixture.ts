/**
 * The manager side of the hosts benchmarks: a HostsDriver behind the real
 * /host WebSocket endpoint on a loopback HTTP server, wired as `froctal up`
 * wires it, and the LaunchSpec a start carries (the environment the core
 * gives every guest, so the frame on the wire has its real size).
 */
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { attachHostsEndpoint, HostsDriver } from "@froctal/driver-hosts";
import type { FleetIdentity, FleetSpec, LaunchSpec } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";

export const HOSTS_SERVICE = "web";
export const HOSTS_FLEET: FleetSpec = {
  name: "bench",
  services: { [HOSTS_SERVICE]: { image: "bench-guest", replicas: 1 } },
};
export const HOSTS_IDENTITY: FleetIdentity = { name: "bench", id: "0123456789abcdef0123456789abcdef" };
/** The fleet's host secret (hex, as FleetState.hostSecret): each host's credential is derived from it. */
export const HOST_SECRET = "5e".repeat(32);
/** What a bench host says it can take: placement reads cpus; the rest is reported only. */
export const HOST_INFO = { cpus: 4, memoryBytes: 8 * 2 ** 30, features: [], drivers: ["memory"] };
const MANAGER_URL = "ws://127.0.0.1:9/agent";

export interface HostsManager {
  readonly hosts: HostsDriver;
  /** ws://127.0.0.1:PORT/host */
  readonly url: string;
  /** What the driver logged about hosts going silent or lost, or refusals: none in a clean run. */
  readonly trouble: string[];
  close(): Promise<void>;
}

export async function hostsManager(): Promise<HostsManager> {
  const http = createServer((_req, res) => res.writeHead(404).end());
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const trouble: string[] = [];
  const hosts = new HostsDriver({
    fleet: HOSTS_FLEET,
    identity: HOSTS_IDENTITY,
    knownHosts: [],
    clock: systemClock,
    log: (message) => {
      if (!/ is up$/.test(message)) trouble.push(message);
    },
  });
  const detach = attachHostsEndpoint(http, hosts, { hostSecret: HOST_SECRET, clock: systemClock });
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/host`;
  return {
    hosts,
    url,
    trouble,
    async close() {
      detach();
      await hosts.close();
      http.closeAllConnections();
      await new Promise<void>((done) => http.close(() => done()));
    },
  };
}

/**
 * A start as the core sends one: an image, and the FROCTAL_* environment with
 * a token of its own. The token is made flat (not measure.ts's token(), a
 * string built piece by piece): a rope is flattened when first encoded, which
 * would free memory in the middle of a heap measurement and cost time inside a
 * timed round trip.
 */
export function hostsLaunchSpec(instanceId: string): LaunchSpec {
  return {
    instanceId,
    fleet: HOSTS_IDENTITY.name,
    fleetId: HOSTS_IDENTITY.id,
    service: HOSTS_SERVICE,
    image: "bench-guest",
    env: {
      FROCTAL_MANAGER_URL: MANAGER_URL,
      FROCTAL_INSTANCE_ID: instanceId,
      FROCTAL_TOKEN: randomBytes(16).toString("hex"),
    },
  };
}

/** Runs `total` tasks (by index) with at most `width` in flight at once; resolves when all are done. */
export async function inFlight(total: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < total) await task(next++);
  };
  await Promise.all(Array.from({ length: Math.min(width, total) }, worker));
}
