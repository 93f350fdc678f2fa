import type { NetworkSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";
import { type AddressPool, formatIpv4, isUnicast, macHex, parseIpv4, parsePrefix } from "./addresses.js";
import type { Bucket, Flow, NetworkState, Owner, SelectGroup } from "./state.js";

/**
 * A NetworkSpec as flows and select groups, the way OVN's load balancer does it
 * on a netdev (userspace) datapath: pure. Three tables:
 *
 *   0 CLASSIFY  ARP for a VIP answered by the switch; every TCP packet through
 *               conntrack (`ct(zone,nat)`: a packet of a known connection gets
 *               its NAT again, a reply its source turned back into the VIP);
 *               the rest on to table 1
 *   1 SERVICES  a NEW connection to VIP:port to the service's select group,
 *               whose buckets commit it with DNAT to one backend
 *               (`ct(commit,nat(dst=IP:PORT))`); the rest on to table 2
 *   2 FORWARD   a packet for the service MAC (DNATed) rewritten to its guest's
 *               MAC and output to its port; the routes, first at the highest
 *               priority; everything else NORMAL (ordinary L2)
 *
 * So only new connections ever see the group: an established one stays on the
 * backend conntrack holds for it whatever the buckets become, and a backend
 * taken out of the buckets gets no new connection.
 */

/** A guest on the network, as the flows need it. */
export interface NetworkGuest {
  readonly instanceId: string;
  readonly ofport: number;
  readonly address: number;
  readonly mac: string;
}

export interface FlowContext {
  readonly owner: Owner;
  /** The conntrack zone of every `ct` action. */
  readonly zone: number;
  /** The MAC the switch answers ARP with for every VIP; a DNATed packet still carries it, until FORWARD. */
  readonly serviceMac: string;
  readonly pool: AddressPool;
  readonly guests: ReadonlyMap<string, NetworkGuest>;
  /** The group id of each service so far: a service keeps its group while it exists. */
  readonly groupIds: ReadonlyMap<string, number>;
  /**
   * true (prepare): an instance not on the network is refused. false (the
   * converge loop, between generations): it is left out (a guest gone since).
   */
  readonly strict: boolean;
}

export interface Derived {
  readonly state: NetworkState;
  readonly groupIds: ReadonlyMap<string, number>;
}

export const CLASSIFY = 0;
export const SERVICES = 1;
export const FORWARD = 2;
const DELIVER_PRIORITY = 40_000;
const ROUTE_TOP = 30_000;
const MAX_ROUTES = 20_000;

export function deriveState(spec: NetworkSpec, context: FlowContext): Derived {
  const { zone, serviceMac } = context;
  const flows: Flow[] = [
    { table: CLASSIFY, priority: 100, match: "tcp", actions: `ct(table=${SERVICES},zone=${zone},nat)` },
    // Priority 1, not 0: add-br's own `priority=0 actions=NORMAL` (cookie 0) is another owner's; this one shadows it.
    { table: CLASSIFY, priority: 1, match: "", actions: `goto_table:${SERVICES}` },
    { table: SERVICES, priority: 0, match: "", actions: `goto_table:${FORWARD}` },
    { table: FORWARD, priority: 0, match: "", actions: "NORMAL" },
    // A packet for a VIP that no connection took (a ping, a port no service has) is dropped, not flooded.
    { table: FORWARD, priority: DELIVER_PRIORITY - 1, match: `dl_dst=${serviceMac}`, actions: "drop" },
  ];
  for (const guest of [...context.guests.values()].sort((a, b) => a.address - b.address)) {
    flows.push({
      table: FORWARD,
      priority: DELIVER_PRIORITY,
      match: `ip,dl_dst=${serviceMac},nw_dst=${formatIpv4(guest.address)}`,
      actions: `mod_dl_dst:${guest.mac},output:${guest.ofport}`,
    });
  }
  const services = serviceFlows(spec, context);
  const routes = routeFlows(spec, context);
  return {
    state: { flows: [...flows, ...services.flows, ...routes], groups: services.groups },
    groupIds: services.groupIds,
  };
}

function serviceFlows(
  spec: NetworkSpec,
  context: FlowContext,
): { flows: Flow[]; groups: SelectGroup[]; groupIds: Map<string, number> } {
  const names = Object.keys(spec.services ?? {}).sort();
  const groupIds = allocateGroups(names, context);
  const flows: Flow[] = [];
  const groups: SelectGroup[] = [];
  const answered = new Set<number>();
  const endpoints = new Map<string, string>();
  const guestAddresses = new Set([...context.guests.values()].map((guest) => guest.address));
  for (const name of names) {
    const service = spec.services?.[name];
    if (service === undefined) continue;
    const who = `service ${name}`;
    const vip = parseIpv4(service.vip);
    if (vip === undefined || !isUnicast(vip)) {
      throw config(`${who}: vip ${JSON.stringify(service.vip)} is not a unicast IPv4 address (10.77.0.100)`);
    }
    if (context.pool.contains(vip) || guestAddresses.has(vip)) {
      throw config(
        `${who}: vip ${service.vip} is in the guests' pool ${formatIpv4(context.pool.first)}..` +
          `${formatIpv4(context.pool.last)}; give one outside it`,
      );
    }
    if (!Number.isInteger(service.port) || service.port < 1 || service.port > 65535) {
      throw config(`${who}: port ${JSON.stringify(service.port)} is not a TCP port (1..65535)`);
    }
    const endpoint = `${service.vip}:${service.port}`;
    const other = endpoints.get(endpoint);
    if (other !== undefined) throw config(`${who}: ${endpoint} is service ${other}'s already`);
    endpoints.set(endpoint, name);
    const group = groupIds.get(name) ?? 0;
    const buckets: Bucket[] = [];
    for (const backend of new Set(service.backends)) {
      const guest = context.guests.get(backend);
      if (guest === undefined) {
        if (context.strict) throw notOnNetwork(`${who}: backend`, backend);
        continue;
      }
      buckets.push({
        // Its host number in the subnet: the backend's for as long as it has its address, restarts included.
        id: guest.address - context.pool.subnet.base,
        actions: `ct(commit,table=${FORWARD},zone=${context.zone},nat(dst=${formatIpv4(guest.address)}:${service.port}))`,
      });
    }
    groups.push({ id: group, buckets: buckets.sort((a, b) => a.id - b.id) });
    flows.push({
      table: SERVICES,
      priority: 100,
      match: `ct_state=+new+trk,tcp,nw_dst=${service.vip},tp_dst=${service.port}`,
      actions: `group:${group}`,
    });
    if (answered.has(vip)) continue;
    answered.add(vip);
    flows.push({
      table: CLASSIFY,
      priority: 110,
      match: `arp,arp_tpa=${service.vip},arp_op=1`,
      actions: arpReply(context.serviceMac, vip),
    });
  }
  return { flows, groups, groupIds };
}

/** The ARP responder: the request turned into the reply "VIP is at MAC", sent back out of the port it came in by. */
function arpReply(mac: string, vip: number): string {
  return [
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[]",
    `mod_dl_src:${mac}`,
    "load:0x2->NXM_OF_ARP_OP[]",
    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[]",
    `load:${macHex(mac)}->NXM_NX_ARP_SHA[]`,
    "move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]",
    `load:0x${vip.toString(16).padStart(8, "0")}->NXM_OF_ARP_SPA[]`,
    "IN_PORT",
  ].join(",");
}

function routeFlows(spec: NetworkSpec, context: FlowContext): Flow[] {
  const routes = spec.routes ?? [];
  if (routes.length > MAX_ROUTES)
    throw config(`${routes.length} routes are more than this network takes (${MAX_ROUTES})`);
  const flows: Flow[] = [];
  routes.forEach((route, index) => {
    const who = `route ${index + 1} (${route.prefix} via ${route.via})`;
    const prefix = parsePrefix(route.prefix);
    if (prefix === undefined) {
      throw config(`${who}: ${JSON.stringify(route.prefix)} is not an IPv4 prefix with no host bits set (10.1.0.0/16)`);
    }
    const guest = context.guests.get(route.via);
    if (guest === undefined) {
      if (context.strict) throw notOnNetwork(`${who}: via`, route.via);
      return;
    }
    const match = prefix.length === 0 ? "ip" : `ip,nw_dst=${route.prefix}`;
    // The first route whose prefix holds the destination wins: earlier routes sit higher.
    flows.push({
      table: FORWARD,
      priority: ROUTE_TOP - index,
      match,
      actions: `mod_dl_dst:${guest.mac},output:${guest.ofport}`,
    });
  });
  return flows;
}

/** Keeps each service's group id; a new service gets the lowest id of the owner's range no service has. */
function allocateGroups(names: readonly string[], context: FlowContext): Map<string, number> {
  const { min, max } = context.owner.groupIds;
  const ids = new Map<string, number>();
  for (const name of names) {
    const id = context.groupIds.get(name);
    if (id !== undefined && id >= min && id <= max) ids.set(name, id);
  }
  const taken = new Set(ids.values());
  let next = min;
  for (const name of names) {
    if (ids.has(name)) continue;
    while (taken.has(next)) next++;
    if (next > max) throw config(`${names.length} services are more than the group ids ${min}..${max} hold`);
    ids.set(name, next);
    taken.add(next);
  }
  return ids;
}

function notOnNetwork(what: string, instanceId: string): FroctalError {
  return config(`${what} ${instanceId} is not on the network: only a guest that joined it can be one`);
}

function config(sentence: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", sentence);
}
