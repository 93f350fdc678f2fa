/**
 * `froctal up --network ovs:BRIDGE[,SUBNET]`: every guest of the local host in
 * a network namespace of its own on an Open vSwitch bridge (a VM: a NIC on a
 * tap there, when the fleet module's driver takes the nics it is given), and the fleet's
 * network policy (VIPs, routes) programmed on that bridge in the same
 * generations as the guests' configurations (@froctal/network-ovs).
 *
 * The subnet (default 10.77.0.0/24, at most a /25) is laid out as: its first
 * address the manager's, on the bridge's own interface, where the guests
 * reach it; up to the 63rd for VIPs and clients; from the 64th on, the guests.
 */
import { join } from "node:path";
import type { NetworkDriver, NicNetwork } from "@froctal/manager";
import { type OvsNetworkStats, openOvsNetwork } from "@froctal/network-ovs";
import { FroctalError } from "@froctal/primitives";
import type { Logger } from "pino";

export interface NetworkChoice {
  readonly bridge: string;
  readonly subnet: string;
  /** Where ovs-vswitchd and ovsdb-server keep their sockets (db.sock in it). */
  readonly ovsRunDir: string;
  /** Where ovs-vsctl and ovs-ofctl are. */
  readonly ovsBinDir: string;
}

export interface OpenedNetwork {
  /** For the process driver: joins each guest to the bridge before it is spawned. */
  readonly guests: import("@froctal/driver-process").GuestNetwork;
  /** For a fleet module's VM driver: a NIC (a tap on the bridge) for each guest before its VM is created. */
  readonly nics: NicNetwork;
  readonly driver: NetworkDriver;
  /** The manager's address on the bridge: guests dial it. */
  readonly gateway: string;
  /** The driver's counters, for /metrics (read on scrape). */
  readonly stats: () => OvsNetworkStats;
  /**
   * Unplugs every guest an earlier run left on the bridge that is not among
   * `running` (its process died with that run): its namespace and address go.
   */
  forgetGone(running: ReadonlySet<string>): Promise<void>;
  close(): void;
}

const BRIDGE = /^[A-Za-z0-9_-]{1,15}$/;

/** `ovs:BRIDGE[,SUBNET]` as given to --network; a FroctalError naming what is wrong otherwise. */
export function parseNetwork(value: string): { bridge: string; subnet: string } {
  const bad = (why: string) =>
    new FroctalError(
      "FROCTAL_E_CONFIG",
      `--network ${JSON.stringify(value)} ${why}; give ovs:BRIDGE or ovs:BRIDGE,10.77.0.0/24`,
    );
  const m = /^ovs:([^,]*)(?:,(.*))?$/.exec(value);
  if (m === null) throw bad("names no network driver froctal has (only ovs, Open vSwitch)");
  const bridge = m[1]!;
  if (!BRIDGE.test(bridge)) throw bad(`has a bridge name that is not 1 to 15 letters, digits, - or _`);
  const subnet = m[2] ?? "10.77.0.0/24";
  if (layout(subnet) === undefined) throw bad(`has a subnet that is not an IPv4 network of /8 to /25`);
  return { bridge, subnet };
}

/** The subnet's first address (the manager's), and the guests' pool: the 64th to the last but one. */
export function layout(
  subnet: string,
): { gateway: string; prefix: number; pool: { first: string; last: string } } | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(subnet);
  if (m === null) return undefined;
  const octets = m.slice(1, 5).map(Number);
  const prefix = Number(m[5]);
  if (octets.some((o) => o > 255) || prefix < 8 || prefix > 25) return undefined;
  const base = octets.reduce((a, o) => a * 256 + o, 0);
  const size = 2 ** (32 - prefix);
  if (base % size !== 0) return undefined; // host bits set: not a network address
  const ip = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
  return { gateway: ip(base + 1), prefix, pool: { first: ip(base + 64), last: ip(base + size - 2) } };
}

/** The network on the chosen bridge; `scope` marks its ports (the fleet's name for a manager, the host's id for a host). */
export async function openNetwork(choice: NetworkChoice, scope: string, log: Logger): Promise<OpenedNetwork> {
  const { gateway, prefix, pool } = layout(choice.subnet)!;
  const network = await openOvsNetwork({
    binDir: choice.ovsBinDir,
    dbSocket: join(choice.ovsRunDir, "db.sock"),
    runDir: choice.ovsRunDir,
    bridge: choice.bridge,
    subnet: choice.subnet,
    pool,
    gateway: `${gateway}/${prefix}`,
    scope,
    onError: (error) => log.warn({ code: error.code }, `network on ${choice.bridge}: ${error.message}`),
  });
  log.info(
    { bridge: choice.bridge, subnet: choice.subnet, gateway },
    `network: guests on Open vSwitch bridge ${choice.bridge}, ${choice.subnet}; this process is ${gateway} there`,
  );
  const forgetGone = async (running: ReadonlySet<string>) => {
    for (const id of [...network.guests.list().keys()].filter((id) => !running.has(id))) {
      await network.guests.leave(id);
      log.info(
        { instance: id },
        `network: ${id} left the bridge with the run before; its namespace and address are freed`,
      );
    }
  };
  const { guests, nics, driver } = network;
  return { guests, nics, driver, gateway, stats: () => network.stats, forgetGone, close: () => network.close() };
}
