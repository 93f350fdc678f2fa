/**
 * The router's routing table as configuration: what a pushed table must look
 * like, and the checks a router makes before it agrees to run it (prepare).
 * Pure, so the guest's prepare is exactly this function over its state.
 */
import { contains, parseAddress, parseCidr } from "./cidr.js";
import type { DeviceProps } from "./device-dir.js";

export interface Route {
  /** The destination network, `a.b.c.d/bits` with the host bits zero. */
  readonly prefix: string;
  /** The router instance that has this network on one of its interfaces. */
  readonly via: string;
  /** That router's address on a network both share, when there is one. */
  readonly gateway?: string;
}

export interface RouterConfig {
  readonly routes: readonly Route[];
}

export interface RouterState {
  /** This router's interfaces: device id -> properties, `address` as `a.b.c.d/bits`. */
  readonly interfaces: ReadonlyMap<string, DeviceProps>;
  /** Prefixes this router will not carry (its local policy: refuse.json). */
  readonly refused: ReadonlySet<string>;
}

/** The routes of `config` if this router can run them, or the sentence saying why not. */
export function checkRoutes(config: unknown, state: RouterState): { routes: Route[] } | { refusal: string } {
  if (typeof config !== "object" || config === null || !Array.isArray((config as RouterConfig).routes)) {
    return { refusal: "the configuration must be { routes: [...] }" };
  }
  const connected = [...state.interfaces.values()]
    .map((props) => (typeof props.address === "string" ? parseCidr(props.address)?.prefix : undefined))
    .filter((p): p is string => p !== undefined);
  const routes: Route[] = [];
  const seen = new Set<string>();
  for (const r of (config as RouterConfig).routes as readonly unknown[]) {
    if (typeof r !== "object" || r === null) return { refusal: `route ${JSON.stringify(r)} is not an object` };
    const { prefix, via, gateway } = r as Record<string, unknown>;
    if (typeof prefix !== "string" || parseCidr(prefix)?.prefix !== prefix) {
      return { refusal: `${JSON.stringify(prefix)} is not a network prefix such as 10.1.0.0/24` };
    }
    if (typeof via !== "string" || via.length === 0) return { refusal: `the route to ${prefix} names no router` };
    if (seen.has(prefix)) return { refusal: `two routes to ${prefix}` };
    if (state.refused.has(prefix)) return { refusal: `prefix ${prefix} is refused by local policy (refuse.json)` };
    if (gateway !== undefined) {
      if (typeof gateway !== "string" || parseAddress(gateway) === undefined) {
        return { refusal: `the gateway of ${prefix} is not an IPv4 address` };
      }
      if (!connected.some((net) => contains(net, gateway))) {
        return { refusal: `gateway ${gateway} for ${prefix} is on none of this router's networks` };
      }
    }
    seen.add(prefix);
    routes.push(gateway === undefined ? { prefix, via } : { prefix, via, gateway });
  }
  return { routes };
}

/** One line for logs: `10.1.0.0/24 via router-a-1 (10.0.0.1), ...`. */
export function describeRoutes(routes: readonly Route[]): string {
  if (routes.length === 0) return "no routes";
  return routes.map((r) => `${r.prefix} via ${r.via}${r.gateway ? ` (${r.gateway})` : ""}`).join(", ");
}
