/**
 * Real VMs end to end: the froctal binary runs the `vms` example fleet on
 * libvirt (QEMU under software emulation) with guests booted
 * from a tools/guest-image build; each registers through its virtio-serial
 * channel and the bridge (no token) and streams signals (its load gauge
 * arrives); a NIC hot-plugged into a running guest, through the libvirt
 * driver's own attachDevice against the real libvirtd, arrives at the manager
 * as that guest's first device and moves its configuration there (the fleet's
 * uplink), and only its own; a manager killed with SIGKILL and restarted
 * re-adopts both domains (none duplicated, none lost) and, asked for one
 * replica, scales one away until its domain is gone. And a VM guest on a
 * `froctal host` (the manager runs none itself) registers through that host,
 * which relays its channel and vouches for it.
 *
 * The libvirtd is the test's own (./private-libvirtd.ts, as root): started
 * before and stopped after, with its configuration, sockets and state in a
 * temporary folder; the machine's libvirt stays untouched.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { vmDriver } from "@froctal/example-vms";
import type { ManagerStatus } from "@froctal/manager";
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually, type RunningFleet, root, upFleet } from "./fleet.js";
import { startVmRun, type VmRun } from "./vm-run.js";

const run = promisify(execFile);
let vms: VmRun | undefined;
let fleet: RunningFleet | undefined;

beforeAll(async () => {
  vms = await startVmRun("froctal-vms-");
}, 300_000);

afterAll(async () => {
  try {
    await fleet?.stop();
  } finally {
    await vms?.stop();
  }
}, 90_000);

const virsh = (...args: string[]) => vms!.virsh(...args);
const domainsOfThisRun = () => vms!.domains();

const vm = (s: ManagerStatus) => s.services.find((x) => x.name === "vm")!;
type Instance = ManagerStatus["services"][number]["instances"][number];
/** What the guest says it runs: the app event it sends on every commit. */
const uplinkFact = (i: Instance) => i.facts.uplink as { generation: number; nic: string | null } | undefined;
/** A locally administered MAC of our own, so the device at the manager is known to be this NIC. */
const MAC = "52:54:00:f7:0c:01";

function start(replicas: number, stateDir: string): Promise<RunningFleet> {
  return upFleet("apps/examples/vms", {
    stateDir,
    env: vms!.env(replicas),
  });
}

test("two VM guests register through their channels, see a hot-plugged NIC, and survive a manager restart", async () => {
  const stateDir = join(vms!.work, "state");
  const first = await start(2, stateDir);
  fleet = first;

  // Both guests boot, connect through the bridge with no token, and say READY.
  const ids = await eventually(
    async () => {
      const ready = vm(await first.status()).instances.filter((i) => i.phase === "ready" && i.connected);
      return ready.length === 2 ? ready.map((i) => i.id).sort() : undefined;
    },
    "two VM guests ready and connected",
    180_000,
  );
  const domains = await domainsOfThisRun();
  expect(domains).toHaveLength(2);

  // Booted with no NIC: no device, the uplink configuration says none, and each guest's load gauge has arrived.
  const booted = await eventually(
    async () => {
      const s = await first.status();
      const all = vm(s).instances;
      const settled = all.every(
        (i) => i.generation > 0 && uplinkFact(i)?.generation === i.generation && i.load !== null,
      );
      return settled && s.rollout === null ? s : undefined;
    },
    "both guests to run their first configuration",
    60_000,
  );
  for (const i of vm(booted).instances) {
    expect(i.devices).toEqual([]);
    expect(uplinkFact(i)).toEqual({ generation: i.generation, nic: null });
    expect(typeof i.load).toBe("number");
  }
  const [target, other] = ids as [string, string];
  const before = (id: string) => vm(booted).instances.find((i) => i.id === id)!;

  // A NIC hot-plugged into the first guest, through the libvirt driver's own attachDevice (it runs the official
  // virsh client against the test's real libvirtd), as the fleet's driver would do it. A driver serves only the
  // fleets it is told the id of: the one the manager stamped on both domains.
  const fleetIds = new Set<string>();
  for (const name of domains)
    fleetIds.add(/ fleet-id=["']([^"']+)["']/.exec(await virsh("dumpxml", name))?.[1] ?? "none");
  expect(fleetIds.size).toBe(1);
  const [fleetId] = [...fleetIds] as [string];
  expect(fleetId).not.toBe("none");
  const hotplug = vmDriver({ imageDir: vms!.imageDir, runDir: vms!.work, uri: vms!.uri });
  try {
    expect((await hotplug.list({ name: "vms", id: fleetId })).map((o) => o.instanceId).sort()).toEqual(ids);
    await hotplug.attachDevice(
      target,
      `<interface type='user'><mac address='${MAC}'/><model type='virtio'/></interface>`,
    );
  } finally {
    await hotplug.close();
  }
  // It arrives as that guest's one device, and its configuration moves there in one generation of its own.
  const moved = await eventually(
    async () => {
      const s = await first.status();
      const i = vm(s).instances.find((x) => x.id === target)!;
      return i.devices.length > 0 && uplinkFact(i)?.nic === "eth0" && s.rollout === null ? s : undefined;
    },
    "the hot-plugged NIC at the manager, and the guest's uplink on it",
    60_000,
  );
  const plugged = vm(moved).instances.find((x) => x.id === target)!;
  expect(plugged.devices).toEqual([
    { id: "eth0", kind: "nic", properties: { mac: MAC, operstate: expect.any(String) } },
  ]);
  expect(plugged.generation).toBe(moved.generation);
  expect(plugged.generation).toBeGreaterThan(before(target).generation);
  expect(uplinkFact(plugged)).toEqual({ generation: plugged.generation, nic: "eth0" });
  expect(moved.rollouts.filter((r) => r.generation > booted.generation)).toEqual([
    expect.objectContaining({ generation: plugged.generation, result: "committed", instances: [target] }),
  ]);
  // The other guest has no NIC and kept its configuration.
  const untouched = vm(moved).instances.find((x) => x.id === other)!;
  expect(untouched.devices).toEqual([]);
  expect([untouched.generation, uplinkFact(untouched)]).toEqual([
    before(other).generation,
    { generation: before(other).generation, nic: null },
  ]);

  // The manager dies without a word; the domains keep running.
  first.process.kill("SIGKILL");
  await new Promise((r) => first.process.once("exit", r));
  fleet = undefined;
  expect(await domainsOfThisRun()).toEqual(domains);

  // Restarted and asked for one replica: it re-adopts both (same ids, no new domain), the guests
  // reconnect through their channels, and then it scales one away until its domain is gone.
  const second = await start(1, stateDir);
  fleet = second;
  const adopted = second.logs.find((l) => l.includes("re-adopted"));
  expect(adopted, second.logs.join("\n")).toBeDefined();
  await eventually(
    async () => {
      const s = vm(await second.status());
      return s.instances.length === 1 && s.instances[0]!.connected ? true : undefined;
    },
    "one guest left, connected to the new manager",
    120_000,
  );
  const left = await domainsOfThisRun();
  expect(left).toHaveLength(1);
  expect(domains).toContain(left[0]);
  const journal = (await second.status()).journal.map((e) => e.message).join("\n");
  for (const id of ids) expect(journal).toContain(`re-adopted ${id}`);
  expect(journal).toMatch(/vm-\d+ is gone/);

  // Stopping the manager stops the guest it runs.
  expect(await second.stop()).toBe(0);
  fleet = undefined;
  expect(await domainsOfThisRun()).toEqual([]);
}, 600_000);

test("a VM guest on a froctal host registers through the host, which vouches for its channel", async () => {
  const stateDir = join(vms!.work, "hosted-state");
  const env = vms!.env(1);
  // The manager runs no guest itself: the one VM goes to the host, the only one there is.
  const manager = await upFleet("apps/examples/vms", { stateDir, env, args: ["--no-local-host"] });
  fleet = manager;
  const bin = join(root, "apps/froctal/dist/main.js");
  const host = await vms!.startHost(manager.url, stateDir, env);
  try {
    const id = await eventually(
      async () => {
        const ready = vm(await manager.status()).instances.filter((i) => i.phase === "ready" && i.connected);
        return ready.length === 1 ? ready[0]!.id : undefined;
      },
      "the VM guest on the host ready and connected",
      180_000,
    );
    const status = (await (await fetch(new URL("/status", manager.url))).json()) as {
      hosts: { id: string; status: string; guests: number; drivers: string[] }[];
      placement: Record<string, string | null>;
    };
    expect(status.hosts.map((h) => [h.id, h.status, h.guests, h.drivers])).toEqual([["vmhost", "up", 1, ["libvirt"]]]);
    expect(status.placement).toEqual({ [id]: "vmhost" });
    // It came in vouched for, through the host's relay: the edge saw it arrive that way, with no token.
    expect(manager.logs.some((l) => l.includes(`"instanceId":"${id}"`) && l.includes("vouched"))).toBe(true);
    expect(await domainsOfThisRun()).toHaveLength(1);
    // froctal down stops the fleet on purpose: its domain on the host goes too.
    const down = await run(process.execPath, [bin, "down", "--url", manager.url]);
    expect(down.stdout).toBe("the fleet is stopping; its manager exits once every guest is gone\n");
    await new Promise((r) => manager.process.once("exit", r));
    fleet = undefined;
    expect(await domainsOfThisRun()).toEqual([]);
  } finally {
    await host.stop();
  }
}, 600_000);
