/**
 * The reconfiguration scenario on Open vSwitch: the froctal binary runs the
 * routers example with --network on a private Open vSwitch, each router in a
 * network namespace of its own on the bridge. The switch's routes to the
 * routers' LANs (the fleet's network policy) are flows on the bridge,
 * committed in the same generation as the routers' tables; when a router
 * refuses a change, the network does not take it either, until it accepts.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ManagerStatus, RolloutOutcome } from "@froctal/manager";
import { OVS_BIN_DIR, type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually, type RunningFleet, upFleet, writeJsonAtomically } from "./fleet.js";

let ovs: PrivateOvs;
let bridge: string;
let devices: string;
let fleet: RunningFleet | undefined;

// A private Open vSwitch runs one at a time per host: another test file may hold it for a while.
beforeAll(async () => {
  ovs = await startPrivateOvs();
  bridge = ovs.bridgeName();
  devices = mkdtempSync(join(tmpdir(), "froctal-devices-"));
}, 150_000);

afterAll(async () => {
  await fleet?.stop();
  await ovs?.stop();
  rmSync(devices, { recursive: true, force: true });
});

/** The routes on the bridge, `prefix -> instance`, in priority order (the MACs read back from the ports' external ids). */
async function routesOnBridge(): Promise<string[]> {
  const listed = await ovs.vsctl("--format=csv", "--no-headings", "--columns=external_ids", "list", "Interface");
  const owner = new Map<string, string>();
  for (const line of listed.split("\n")) {
    const instance = /froctal-instance="*([\w-]+)/.exec(line)?.[1];
    const mac = /froctal-mac="*([0-9a-f:]+)/.exec(line)?.[1];
    if (instance !== undefined && mac !== undefined) owner.set(mac, instance);
  }
  const flows = await ovs.ofctl("--no-stats", "dump-flows", bridge, "table=2");
  return [...flows.matchAll(/priority=(\d+),ip,nw_dst=([\d./]+) actions=set_field:([0-9a-f:]+)->eth_dst,output:\d+/g)]
    .sort((a, b) => Number(b[1]) - Number(a[1]))
    .map((m) => `${m[2]} -> ${owner.get(m[3]!) ?? m[3]}`);
}

const ids = (s: ManagerStatus) =>
  Object.fromEntries(s.services.map((svc) => [svc.name, svc.instances.find((i) => i.phase === "ready")?.id]));

async function outcome(f: RunningFleet, generation: number): Promise<RolloutOutcome> {
  return eventually(
    async () => (await f.status()).rollouts.find((r) => r.generation === generation),
    `the outcome of generation ${generation}`,
  );
}

test("routes to the routers' LANs are flows, committed with the routers' tables, held back with them on a refusal", async () => {
  fleet = await upFleet("apps/examples/routers", {
    env: { FROCTAL_DEVICE_DIR: devices },
    args: [
      "--network",
      `ovs:${bridge},10.78.0.0/24`,
      "--ovs-run-dir",
      ovs.options.runDir,
      "--ovs-bin-dir",
      OVS_BIN_DIR,
    ],
  });
  const f = fleet;
  // Settled: three routers ready, nothing in flight, and the network on the seeded LANs of B and C.
  const { a, b, c, generation } = await eventually(async () => {
    const s = await f.status();
    const { "router-a": a, "router-b": b, "router-c": c } = ids(s);
    if (a === undefined || b === undefined || c === undefined || s.rollout !== null) return undefined;
    const want = [`10.2.0.0/24 -> ${b}`, `10.3.0.0/24 -> ${c}`];
    return JSON.stringify(await routesOnBridge()) === JSON.stringify(want)
      ? { a, b, c, generation: s.generation }
      : undefined;
  }, "the routers and the switch on the seeded LANs");
  // The network runs the last generation it took part in (the routers may have had one more of their own).
  const settled = await f.status();
  const lastOnNetwork = settled.rollouts
    .filter((r) => r.result === "committed" && r.instances.includes("network"))
    .at(-1);
  expect(settled.network).toEqual({ driver: `openvswitch bridge ${bridge}`, generation: lastOnNetwork?.generation });
  const nic = join(devices, a, "eth1.json");

  // A gets a LAN: B's and C's tables and the switch's routes change in one generation.
  writeJsonAtomically(nic, { address: "10.1.0.1/24" });
  const added = await outcome(f, generation + 1);
  expect(added).toMatchObject({ result: "committed" });
  expect([...added.instances].sort()).toEqual(["network", b, c].sort());
  expect(await routesOnBridge()).toEqual([`10.1.0.0/24 -> ${a}`, `10.2.0.0/24 -> ${b}`, `10.3.0.0/24 -> ${c}`]);

  // B refuses A's new LAN: the generation aborts everywhere, and the switch keeps the old route.
  writeJsonAtomically(join(devices, b, "refuse.json"), ["10.1.128.0/17"]);
  writeJsonAtomically(nic, { address: "10.1.128.1/17" });
  const refused = await outcome(f, generation + 2);
  expect(refused).toMatchObject({
    result: "aborted",
    reason: `${b} refused generation ${generation + 2}: prefix 10.1.128.0/17 is refused by local policy (refuse.json)`,
  });
  expect([...refused.instances].sort()).toEqual(["network", b, c].sort());
  await new Promise((r) => setTimeout(r, 1_500)); // a retry or two, each refused
  expect(await routesOnBridge()).toEqual([`10.1.0.0/24 -> ${a}`, `10.2.0.0/24 -> ${b}`, `10.3.0.0/24 -> ${c}`]);
  expect((await f.status()).network?.generation).toBe(generation + 1);

  // B accepts: the next retry commits on the routers and the switch together.
  rmSync(join(devices, b, "refuse.json"));
  const committed = await eventually(async () => {
    const s = await f.status();
    return s.rollouts.find((r) => r.generation > generation + 2 && r.result === "committed");
  }, "a committed retry");
  expect([...committed.instances].sort()).toEqual(["network", b, c].sort());
  expect(await routesOnBridge()).toEqual([`10.1.128.0/17 -> ${a}`, `10.2.0.0/24 -> ${b}`, `10.3.0.0/24 -> ${c}`]);
  expect((await f.status()).network?.generation).toBe(committed.generation);

  expect(await f.stop()).toBe(0);
  fleet = undefined;
});
