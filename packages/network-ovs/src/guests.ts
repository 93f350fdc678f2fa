import type { GuestNic, LaunchSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";
import { type AddressPool, formatIpv4, macOf, parseIpv4 } from "./addresses.js";
import type { NetworkGuest } from "./flows.js";
import { type GuestPorts, isPluggedAlready, openGuestPorts } from "./guest-ports.js";
import type { GuestPortSpec } from "./guest-spec.js";
import { DEFAULT_IP, type IpOptions } from "./ip.js";
import { type OvsOptions, runTool } from "./run.js";

/**
 * The guests of one network (one bridge, one scope): each plugged with an
 * address from the pool and the MAC derived from it. Structurally the process
 * driver's GuestNetwork (join, leave), plus what the flows need to know.
 */
export interface OvsGuests {
  /**
   * Plugs the instance in (a namespace, a veth on the bridge) with the lowest
   * free address of the pool, and resolves with the prefix that runs a command
   * inside it: `["/usr/sbin/ip", "netns", "exec", NAME]`. An instance the
   * network knows already (a guest started again) is unplugged first.
   */
  join(spec: Pick<LaunchSpec, "instanceId">): Promise<readonly string[]>;
  /**
   * Plugs the instance in as a VM: a tap on the bridge for its NIC, the lowest
   * free address of the pool and the MAC from it, which the VM must take (the
   * manager's NicNetwork). An instance the network knows already is unplugged first.
   */
  joinNic(instanceId: string): Promise<GuestNic>;
  /** Unplugs the instance and frees its address; idempotent. */
  leave(instanceId: string): Promise<void>;
  /** The guests on the network now. */
  list(): ReadonlyMap<string, NetworkGuest>;
  /** The instance's guest, if it is on the network. */
  get(instanceId: string): NetworkGuest | undefined;
}

export interface GuestsContext extends OvsOptions, IpOptions {
  readonly bridge: string;
  readonly scope: string;
  readonly pool: AddressPool;
  /** Told of what is wrong but not fatal (a port on the bridge that is not understood). */
  readonly onError: (error: FroctalError) => void;
}

/** The keys of a guest port's `external_ids`: who it is, so that a manager started again knows its guests. */
const KEY = {
  network: "froctal-network",
  instance: "froctal-instance",
  address: "froctal-address",
  mac: "froctal-mac",
} as const;

export async function openOvsGuests(context: GuestsContext): Promise<OvsGuests> {
  const ports: GuestPorts = openGuestPorts(context);
  const network = `${context.bridge}/${context.scope}`;
  const guests = new Map<string, NetworkGuest>();
  /** The joins and leaves in flight, by instance: one at a time per instance. */
  const busy = new Map<string, Promise<unknown>>();

  for (const guest of await readBack(context, network)) {
    if (!context.pool.claim(guest.address)) continue; // two ports claim one address: the first found keeps it
    guests.set(guest.instanceId, guest);
  }

  /** Plugs the instance in with the lowest free address and the MAC from it, by `make` (a namespace or a tap). */
  async function plug<T extends { readonly ofport: number }>(
    instanceId: string,
    make: (spec: GuestPortSpec & { readonly mac: string }) => Promise<T>,
  ): Promise<{ port: T; address: string; mac: string }> {
    if (guests.has(instanceId)) await unplug(instanceId);
    const address = context.pool.allocate(`instance ${instanceId}`);
    const mac = macOf(address);
    try {
      const spec = {
        instanceId,
        bridge: context.bridge,
        address: context.pool.withLength(address),
        mac,
        externalIds: {
          [KEY.network]: network,
          [KEY.instance]: instanceId,
          [KEY.address]: formatIpv4(address),
          [KEY.mac]: mac,
        },
      };
      const port = await make(spec).catch(async (error: unknown) => {
        // Not this network's (it would know it): what a run killed with its guests, on another bridge or database, left.
        if (!isPluggedAlready(error)) throw error;
        context.onError(
          new FroctalError(
            "FROCTAL_E_CONFIG",
            `${error.sentence.replace(/: unplug it first$/, "")}, left by an earlier run: removed`,
          ),
        );
        await ports.unplug(instanceId);
        return make(spec);
      });
      guests.set(instanceId, { instanceId, ofport: port.ofport, address, mac });
      return { port, address: context.pool.withLength(address), mac };
    } catch (error) {
      context.pool.release(address);
      throw error;
    }
  }

  async function unplug(instanceId: string): Promise<void> {
    await ports.unplug(instanceId);
    const guest = guests.get(instanceId);
    if (guest === undefined) return;
    guests.delete(instanceId);
    context.pool.release(guest.address);
  }

  /** Runs `step` after whatever the instance has in flight. */
  function serial<T>(instanceId: string, step: () => Promise<T>): Promise<T> {
    const before = busy.get(instanceId) ?? Promise.resolve();
    const next = before.then(step, step);
    const settled = next.catch(() => {});
    busy.set(instanceId, settled);
    void settled.then(() => {
      if (busy.get(instanceId) === settled) busy.delete(instanceId);
    });
    return next;
  }

  return {
    join: (spec) =>
      serial(spec.instanceId, async () => {
        const { port } = await plug(spec.instanceId, ports.plug);
        return [context.ip ?? DEFAULT_IP, "netns", "exec", port.namespace];
      }),
    joinNic: (instanceId) =>
      serial(instanceId, async () => {
        const { port, address, mac } = await plug(instanceId, ports.plugTap);
        return { tap: port.tap, mac, address };
      }),
    leave: (instanceId) => serial(instanceId, () => unplug(instanceId)),
    list: () => guests,
    get: (instanceId) => guests.get(instanceId),
  };
}

/**
 * The guests a manager before this one plugged into the bridge and left
 * running: the Interface records whose `external_ids` name this network, with
 * the ofport ovs-vswitchd gave them.
 */
async function readBack(context: GuestsContext, network: string): Promise<NetworkGuest[]> {
  const text = await runTool(context, "ovs-vsctl", [
    "--format=json",
    "--data=json",
    "--columns=ofport,external_ids",
    "find",
    "Interface",
    `external_ids:${KEY.network}=${JSON.stringify(network)}`,
  ]);
  const table = JSON.parse(text) as { data?: unknown[][] };
  const found: NetworkGuest[] = [];
  for (const [ofport, ids] of table.data ?? []) {
    const map = new Map(
      Array.isArray(ids) && ids[0] === "map" && Array.isArray(ids[1]) ? (ids[1] as [string, string][]) : [],
    );
    const instanceId = map.get(KEY.instance);
    const address = parseIpv4(map.get(KEY.address) ?? "");
    const mac = map.get(KEY.mac);
    if (typeof ofport !== "number" || ofport < 1 || instanceId === undefined || address === undefined) continue;
    if (mac !== macOf(address) || !context.pool.contains(address)) continue;
    found.push({ instanceId, ofport, address, mac });
  }
  if (found.length !== (table.data ?? []).length) {
    // Not fatal: such a port is left as it is, and its instance can join again.
    context.onError(
      new FroctalError(
        "FROCTAL_E_CONFIG",
        `${(table.data ?? []).length - found.length} port(s) of network ${network} on ${context.bridge} were not understood and are ignored`,
      ),
    );
  }
  return found.sort((a, b) => a.address - b.address);
}
