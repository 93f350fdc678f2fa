/**
 * The routing table as a derivation: a router's routes are the networks on
 * its peers' interfaces that it is not on itself, each via the peer that has
 * it. Pure over the fleet view, so an interface change in one router changes
 * the tables of the others in the same tick, and they take them together.
 */
import { parseCidr } from "@froctal/example-router/cidr";
import type { FleetView, InstanceView } from "@froctal/manager";

export interface Route {
  readonly prefix: string;
  readonly via: string;
  readonly gateway?: string;
}

interface Network {
  readonly prefix: string;
  readonly address: string;
}

/** The networks an instance is on, from its "nic" devices' `address` property. */
export function networksOf(instance: InstanceView): Network[] {
  const out: Network[] = [];
  for (const device of instance.devices.values()) {
    if (device.kind !== "nic" || device.properties.address === undefined) continue;
    const cidr = parseCidr(device.properties.address);
    if (cidr !== undefined) out.push({ prefix: cidr.prefix, address: cidr.address });
  }
  return out.sort((a, b) => compare(a.prefix, b.prefix));
}

/**
 * The routes of `self`: every network of every ready router of `services`
 * except `self`'s own. The gateway is the peer's address on the first network
 * both share; a network two peers have goes via one that shares a network with
 * `self`, then the smaller instance id, so the table is the same on every run.
 */
export function routingTable(fleet: FleetView, self: InstanceView, services: readonly string[]): { routes: Route[] } {
  const mine = new Set(networksOf(self).map((n) => n.prefix));
  const best = new Map<string, Route>();
  for (const service of services) {
    for (const peer of fleet.service(service).ready) {
      if (peer.id === self.id) continue;
      const theirs = networksOf(peer);
      const gateway = theirs.find((n) => mine.has(n.prefix))?.address;
      for (const n of theirs) {
        if (mine.has(n.prefix)) continue; // directly connected: no route needed
        const route: Route =
          gateway === undefined ? { prefix: n.prefix, via: peer.id } : { prefix: n.prefix, via: peer.id, gateway };
        const held = best.get(n.prefix);
        if (held === undefined || better(route, held)) best.set(n.prefix, route);
      }
    }
  }
  return { routes: [...best.values()].sort((a, b) => compare(a.prefix, b.prefix)) };
}

function better(a: Route, b: Route): boolean {
  if ((a.gateway === undefined) !== (b.gateway === undefined)) return a.gateway !== undefined;
  return compare(a.via, b.via) < 0;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * The routes a switch in front of the routers holds (the fleet's `network`
 * policy, for a network driver): every network a ready router has, except the
 * transit network they share, goes to that router (the smaller id when two
 * have it). Derived from the same interfaces as the tables, so a change takes
 * effect on the switch in the same generation as in the routers.
 */
export function switchRoutes(
  fleet: FleetView,
  services: readonly string[],
  transit: string,
): { routes: { prefix: string; via: string }[] } {
  const via = new Map<string, string>();
  for (const service of services) {
    for (const router of fleet.service(service).ready) {
      for (const n of networksOf(router)) {
        const held = via.get(n.prefix);
        if (n.prefix !== transit && (held === undefined || compare(router.id, held) < 0)) via.set(n.prefix, router.id);
      }
    }
  }
  return { routes: [...via].sort(([a], [b]) => compare(a, b)).map(([prefix, id]) => ({ prefix, via: id })) };
}
