import type { NetworkDriver, NetworkSpec, NicNetwork } from "@froctal/manager";
import { type Clock, type Disposer, FroctalError, isolate, systemClock, toFroctalError } from "@froctal/primitives";
import { AddressPool, inPrefix, parseIpv4, parseMac } from "./addresses.js";
import { deriveState, type FlowContext } from "./flows.js";
import { type OvsGuests, openOvsGuests } from "./guests.js";
import { DEFAULT_ETHTOOL, DEFAULT_IP, type IpOptions, runIpTool } from "./ip.js";
import { openOvs } from "./ovs.js";
import { checkDesired, type Staged } from "./plan.js";
import type { OvsOptions } from "./run.js";
import type { NetworkState, Owner, SelectGroup } from "./state.js";

export interface OvsNetworkOptions extends OvsOptions, IpOptions {
  /** The bridge (made if missing, `datapath_type=netdev`, checked up). */
  readonly bridge: string;
  /** The guests' subnet, `10.77.0.0/24`: every guest gets an address of it with this prefix length. */
  readonly subnet: string;
  /** The host addresses guests are given, lowest free first; the rest of the subnet is for VIPs and clients. */
  readonly pool: { readonly first: string; readonly last: string };
  /**
   * An address of the subnet outside the pool, `10.77.0.1/24`, given to the
   * bridge's own interface: the host (a manager the guests dial) is reached
   * there. Default: none, the host is not on the network.
   */
  readonly gateway?: string;
  /** Mixed into the namespaces' and veths' names, and marks this network's ports on the bridge. Default "". */
  readonly scope?: string;
  /** Whose flows and groups (cookie, group id range). Default: cookie 0xf0c7a1, groups 1000..1999. */
  readonly owner?: Owner;
  /** The conntrack zone of the services' connections, 0..65535. Default 7. */
  readonly zone?: number;
  /** The MAC the switch answers ARP with for every VIP. Default 02:ff:00:00:00:01. */
  readonly serviceMac?: string;
  /** How often the bridge is converged on the last committed state, ms. Default 1000. */
  readonly convergeMs?: number;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Told of every failure of the converge loop (and of ports found on the bridge that are not understood). */
  readonly onError?: (error: FroctalError) => void;
}

export interface OvsNetworkStats {
  /** prepare calls that staged a generation. */
  readonly prepares: number;
  /** commit calls that applied one. */
  readonly commits: number;
  /** prepare and commit calls that rejected. */
  readonly rejected: number;
  /** Converge rounds that failed (each one passed to onError). */
  readonly failures: number;
  /** Converge rounds that succeeded. */
  readonly converges: number;
  /** Converge rounds that found the bridge off the committed state and changed it. */
  readonly reapplied: number;
}

export interface OvsNetwork {
  /** Plugs guests in and out: the process driver's GuestNetwork (`joinNic`: a VM's tap). */
  readonly guests: OvsGuests;
  /** The VMs' side of `guests`: the manager's NicNetwork, for a VM driver. */
  readonly nics: NicNetwork;
  /** The network's part in a generation: the manager's NetworkDriver. */
  readonly driver: NetworkDriver;
  readonly bridge: string;
  readonly owner: Owner;
  readonly stats: OvsNetworkStats;
  /** The state the bridge is held on: the last committed spec against the guests now; undefined before a commit. */
  desired(): NetworkState | undefined;
  /** Stops the converge loop; flows, groups and ports stay as they are. */
  close(): void;
}

export const DEFAULT_OWNER: Owner = { cookie: 0xf0c7a1n, groupIds: { min: 1000, max: 1999 } };
const DEFAULT_ZONE = 7;
const DEFAULT_SERVICE_MAC = "02:ff:00:00:00:01";
const DEFAULT_CONVERGE_MS = 1000;

interface Generation {
  readonly spec: NetworkSpec;
  readonly groupIds: ReadonlyMap<string, number>;
}

/**
 * The network on an Open vSwitch bridge: guests plugged in with addresses of
 * a pool, and the NetworkDriver that programs services (VIP, select group,
 * conntrack NAT) and routes as flows. Resolves once the bridge is up and the
 * guests a manager before this one left on it are known again; rejects with a
 * sentence naming what to install or start.
 */
export async function openOvsNetwork(options: OvsNetworkOptions): Promise<OvsNetwork> {
  const { bridge } = options;
  const owner = options.owner ?? DEFAULT_OWNER;
  const zone = options.zone ?? DEFAULT_ZONE;
  const clock = options.clock ?? systemClock;
  const convergeMs = options.convergeMs ?? DEFAULT_CONVERGE_MS;
  const reportTo = options.onError ?? (() => {});
  // Someone else's callback: if it throws, the loop carries on and the error surfaces on its own.
  const onError = (error: FroctalError) => isolate(() => reportTo(error));
  const description = `openvswitch bridge ${bridge}`;
  if (!Number.isInteger(zone) || zone < 0 || zone > 65535) {
    throw new FroctalError("FROCTAL_E_CONFIG", `conntrack zone ${zone} is not in 0..65535`);
  }
  if (!Number.isInteger(convergeMs) || convergeMs < 1) {
    throw new FroctalError("FROCTAL_E_CONFIG", `convergeMs ${convergeMs} is not a positive number of ms`);
  }
  const serviceMac = parseMac(options.serviceMac ?? DEFAULT_SERVICE_MAC);
  if (serviceMac === undefined) {
    throw new FroctalError("FROCTAL_E_CONFIG", `serviceMac ${JSON.stringify(options.serviceMac)} is not a unicast MAC`);
  }
  checkDesired(owner, { flows: [], groups: [] });
  const pool = new AddressPool(options.subnet, options.pool.first, options.pool.last);
  const ovs = openOvs(options);
  await ovs.addBridge(bridge);
  if (options.gateway !== undefined) await addGateway(options, pool, options.gateway);
  const guests = await openOvsGuests({ ...options, scope: options.scope ?? "", pool, onError });

  const stats = { prepares: 0, commits: 0, rejected: 0, failures: 0, converges: 0, reapplied: 0 };
  const staged = new Map<number, Generation & { readonly staged: Staged }>();
  let committed: Generation | undefined;
  /**
   * The owner's groups as the last commit or converge round left them: a
   * prepare reads only the flows then (one tool process, not two). Forgotten
   * on any failure, so the next prepare reads the groups too; the converge loop
   * reads everything anyway.
   */
  let groupsThere: readonly SelectGroup[] | undefined;
  /** The newest generation aborted: a prepare of it (or older) that ends later holds nothing. */
  let abortedUpTo = 0;
  /** prepares and commits in flight: the loop waits for them, and they for the loop's round. */
  let busy = 0;
  let converging: Promise<void> | undefined;
  let timer: Disposer | undefined;
  let closed = false;

  const context = (strict: boolean, groupIds: ReadonlyMap<string, number>): FlowContext => ({
    owner,
    zone,
    serviceMac,
    pool,
    guests: guests.list(),
    groupIds,
    strict,
  });

  async function rejecting<T>(step: () => Promise<T>): Promise<T> {
    busy++;
    try {
      await converging;
      return await step();
    } catch (error) {
      stats.rejected++;
      throw toFroctalError(error);
    } finally {
      busy--;
    }
  }

  const driver: NetworkDriver = {
    description,
    prepare: (generation, desired) =>
      rejecting(async () => {
        const derived = deriveState(desired, context(true, committed?.groupIds ?? new Map()));
        const plan = await ovs.stage(bridge, owner, derived.state, groupsThere);
        // Aborted while it was staging (the rollout timed out): held, it would stop the converge loop for good.
        if (generation <= abortedUpTo)
          throw new FroctalError("FROCTAL_E_CLOSED", `generation ${generation} was aborted`);
        staged.set(generation, { spec: desired, groupIds: derived.groupIds, staged: plan });
        stats.prepares++;
      }),
    commit: (generation) =>
      rejecting(async () => {
        const held = staged.get(generation);
        if (held === undefined) {
          throw new FroctalError(
            "FROCTAL_E_CONFIG",
            `generation ${generation} is not prepared on ${description} (never, or aborted, or committed already)`,
          );
        }
        // A plan holds only against the bridge it read: the older generations' are stale from now on.
        for (const older of staged.keys()) if (older <= generation) staged.delete(older);
        groupsThere = undefined;
        await ovs.commit(held.staged);
        groupsThere = held.staged.desired.groups;
        committed = { spec: held.spec, groupIds: held.groupIds };
        stats.commits++;
      }),
    abort(generation) {
      staged.delete(generation);
      abortedUpTo = Math.max(abortedUpTo, generation);
    },
  };

  /** One round: the bridge converged on the last committed spec, against the guests there are now. */
  async function converge(): Promise<void> {
    const held = committed;
    if (held === undefined) return;
    try {
      const derived = deriveState(held.spec, context(false, held.groupIds));
      groupsThere = undefined;
      const plan = await ovs.apply(bridge, owner, derived.state);
      groupsThere = plan.desired.groups;
      stats.converges++;
      if (plan.lines.length > 0) stats.reapplied++;
    } catch (error) {
      stats.failures++;
      onError(toFroctalError(error));
    }
  }

  function schedule(): void {
    if (closed) return;
    timer = clock.setTimeout(() => {
      timer = undefined;
      // Never beside a generation: a staged plan holds only against the bridge it read.
      if (busy > 0 || staged.size > 0 || committed === undefined) return schedule();
      converging = converge().finally(() => {
        converging = undefined;
        schedule();
      });
    }, convergeMs);
  }
  schedule();

  return {
    guests,
    nics: { join: guests.joinNic, leave: guests.leave },
    driver,
    bridge,
    owner,
    get stats() {
      return { ...stats };
    },
    desired() {
      return committed === undefined
        ? undefined
        : deriveState(committed.spec, context(false, committed.groupIds)).state;
    },
    close() {
      closed = true;
      timer?.();
      timer = undefined;
    },
  };
}

/**
 * Puts the host on the network: the address on the bridge's own interface, up,
 * with tx checksum offload off (on a netdev bridge the host's TCP to the guests
 * fails otherwise, as a veth's does). `addr replace`: the same again is no change.
 */
async function addGateway(options: OvsNetworkOptions, pool: AddressPool, gateway: string): Promise<void> {
  const [address, length] = gateway.split("/");
  const value = address === undefined ? undefined : parseIpv4(address);
  const { subnet } = pool;
  const broadcast = subnet.base + 2 ** (32 - subnet.length) - 1;
  const host = value !== undefined && inPrefix(subnet, value) && value !== subnet.base && value !== broadcast;
  if (!host || length !== String(subnet.length) || pool.contains(value)) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `gateway ${JSON.stringify(gateway)} is not an address of ${options.subnet} outside the guests' pool, with its prefix length`,
    );
  }
  const ip = options.ip ?? DEFAULT_IP;
  await runIpTool(options, { file: ip, args: ["addr", "replace", gateway, "dev", options.bridge] });
  await runIpTool(options, { file: ip, args: ["link", "set", "dev", options.bridge, "up"] });
  await runIpTool(options, { file: options.ethtool ?? DEFAULT_ETHTOOL, args: ["-K", options.bridge, "tx", "off"] });
}
