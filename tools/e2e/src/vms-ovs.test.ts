/**
 * VM guests on the Open vSwitch network, end to end: the froctal binary runs
 * the `vms` example fleet with --network on a private Open vSwitch and a
 * private libvirtd (QEMU under software emulation). Each VM gets a NIC on a
 * tap the network made on the bridge and its address on the kernel command
 * line; the ready VMs answer at the fleet's VIP (a select group of both) to a
 * client in a namespace of its own, one new connection per request. Killed
 * with -9 and restarted with one replica, the manager adopts both VMs with
 * their NICs, drains one away: the group holds the other alone, the VIP
 * answers only from it, and the gone VM's tap is removed. A fleet module whose
 * driver does not take the network is refused.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import type { ManagerStatus } from "@froctal/manager";
import { type GuestPorts, openGuestPorts } from "@froctal/network-ovs";
import { OVS_BIN_DIR, type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually, type RunningFleet, root, upFleet } from "./fleet.js";
import { startVmRun, type VmRun } from "./vm-run.js";

const run = promisify(execFile);
const SUBNET = "10.80.0.0/24";
const VIP = "10.80.0.10";
const CLIENT = { instanceId: "e2e-vm-client", address: "10.80.0.20/24", mac: "02:00:0a:50:00:14" };
/** The froctal host's own bridge: another subnet, a VIP and a client of its own. */
const HOST_NET = { subnet: "10.81.0.0/24", vip: "10.81.0.10" };
const HOST_CLIENT = { instanceId: "e2e-vm-host-client", address: "10.81.0.20/24", mac: "02:00:0a:51:00:14" };

let ovs: PrivateOvs;
let bridge: string;
let ports: GuestPorts;
let vms: VmRun | undefined;
let fleet: RunningFleet | undefined;

beforeAll(async () => {
  ovs = await startPrivateOvs();
  bridge = ovs.bridgeName();
  ports = openGuestPorts({ ...ovs.options, scope: randomBytes(8).toString("hex") });
  vms = await startVmRun("froctal-vms-ovs-");
}, 300_000);

afterAll(async () => {
  try {
    await fleet?.stop();
  } finally {
    for (const client of [CLIENT, HOST_CLIENT]) await ports?.unplug(client.instanceId);
    await vms?.stop();
    await ovs?.stop();
  }
}, 120_000);

const virsh = (...args: string[]) => vms!.virsh(...args);
const domainsOfThisRun = () => vms!.domains();

/** The backends' addresses in the VIP's select group, as the switch holds it now. */
async function groupBackends(on = bridge): Promise<string[]> {
  const dump = await ovs.ofctl("-O", "OpenFlow15", "dump-groups", on);
  return [...dump.matchAll(/nat\(dst=(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!).sort();
}

/** Each guest port of a network (`bridge/scope`): its instance and address, from the external ids the network wrote. */
async function portsOnBridge(network = `${bridge}/vms`): Promise<{ instance: string; address: string; tap: string }[]> {
  const table = JSON.parse(
    await ovs.vsctl(
      "--format=json",
      "--data=json",
      "--columns=name,external_ids",
      "find",
      "Interface",
      `external_ids:froctal-network="${network}"`,
    ),
  ) as { data: [string, ["map", [string, string][]]][] };
  return table.data
    .map(([tap, [, ids]]) => {
      const map = new Map(ids);
      return { instance: map.get("froctal-instance")!, address: map.get("froctal-address")!, tap };
    })
    .sort((a, b) => a.instance.localeCompare(b.instance));
}

/** `count` requests to a VIP from a client's namespace, a new connection each: who answered each one. */
async function ask(count: number, client = CLIENT.instanceId, vip = VIP): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) {
    const { file, args } = ports.command(client, ["curl", "-sS", "--max-time", "5", `http://${vip}:8080/`]);
    const { stdout } = await run(file, [...args]);
    answers.push((JSON.parse(stdout) as { instance: string }).instance);
  }
  return answers;
}

const vm = (s: ManagerStatus) => s.services.find((x) => x.name === "vm")!;

function start(replicas: number, stateDir: string): Promise<RunningFleet> {
  return upFleet("apps/examples/vms", {
    stateDir,
    args: ["--network", `ovs:${bridge},${SUBNET}`, "--ovs-run-dir", ovs.options.runDir, "--ovs-bin-dir", OVS_BIN_DIR],
    env: vms!.env(replicas, { VM_VIP: VIP }),
  });
}

test("VMs on the bridge answer at the VIP; after a restart with one replica, the one drained away leaves the group and its tap", async () => {
  const stateDir = join(vms!.work, "state");
  const first = await start(2, stateDir);
  fleet = first;

  // Both VMs boot with a NIC on the bridge, register through their channels, and are both in the group.
  const ids = await eventually(
    async () => {
      const s = await first.status();
      const ready = vm(s).instances.filter((i) => i.phase === "ready" && i.connected);
      if (ready.length !== 2 || s.rollout !== null) return undefined;
      return (await groupBackends()).length === 2 ? ready.map((i) => i.id).sort() : undefined;
    },
    "two VMs ready, connected and in the VIP's group",
    240_000,
  );
  const plugged = await portsOnBridge();
  expect(plugged.map((p) => p.instance)).toEqual(ids);
  expect(plugged.map((p) => p.address).sort()).toEqual(await groupBackends());
  expect(plugged.every((p) => /^10\.80\.0\.(6[4-9]|[7-9]\d|1\d\d|2[0-4]\d|25[0-4])$/.test(p.address))).toBe(true);
  // Each domain opens its tap, with the MAC from its address, and booted with that address.
  const domains = await domainsOfThisRun();
  expect(domains).toHaveLength(2);
  for (const name of domains) {
    const xml = await virsh("dumpxml", name);
    const port = plugged.find((p) => xml.includes(`<target dev='${p.tap}' managed='no'/>`));
    expect(port, xml).toBeDefined();
    expect(xml).toContain(`froctal.ip=${port!.address}/24`);
    const mac = `02:00:${port!.address
      .split(".")
      .map((o) => Number(o).toString(16).padStart(2, "0"))
      .join(":")}`;
    expect(xml).toContain(`<mac address='${mac}'/>`);
  }
  // The guest reports the NIC it booted with, up, as its device.
  const s = await first.status();
  for (const i of vm(s).instances) {
    expect(i.devices).toEqual([{ id: "eth0", kind: "nic", properties: { mac: expect.any(String), operstate: "up" } }]);
  }

  // A client on the bridge: the VIP answers from both VMs.
  await ports.plug({ ...CLIENT, bridge });
  const answers = await ask(24);
  expect(answers).toHaveLength(24);
  expect([...new Set(answers)].sort()).toEqual(ids);
  // And each VM's own address answers too.
  for (const p of plugged) {
    const { file, args } = ports.command(CLIENT.instanceId, ["ping", "-c", "1", "-W", "5", p.address]);
    expect((await run(file, [...args])).stdout).toContain("1 packets transmitted, 1 received");
  }

  // The manager dies without a word; the VMs and their taps stay.
  first.process.kill("SIGKILL");
  await new Promise((r) => first.process.once("exit", r));
  fleet = undefined;
  expect(await portsOnBridge()).toEqual(plugged);

  // Restarted with one replica: both adopted (their NICs kept), one drained away.
  const second = await start(1, stateDir);
  fleet = second;
  const kept = await eventually(
    async () => {
      const st = await second.status();
      const all = vm(st).instances;
      if (all.length !== 1 || !all[0]!.connected || st.rollout !== null) return undefined;
      return (await domainsOfThisRun()).length === 1 && (await portsOnBridge()).length === 1 ? all[0]!.id : undefined;
    },
    "one VM left, its NIC alone on the bridge",
    180_000,
  );
  const remaining = plugged.find((p) => p.instance === kept)!;
  expect(await portsOnBridge()).toEqual([remaining]);
  expect(await groupBackends()).toEqual([remaining.address]);
  const gone = plugged.find((p) => p.instance !== kept)!;
  await expect(run("ip", ["link", "show", gone.tap])).rejects.toThrow(/does not exist/);
  expect(new Set(await ask(12))).toEqual(new Set([kept]));

  // Stopping the manager stops its VM; the NIC goes with it.
  expect(await second.stop()).toBe(0);
  fleet = undefined;
  expect(await domainsOfThisRun()).toEqual([]);
  expect(await portsOnBridge()).toEqual([]);
}, 900_000);

test("a VM on a froctal host with --network: its NIC on the host's own bridge, served at the VIP there", async () => {
  const hostBridge = ovs.bridgeName();
  const stateDir = join(vms!.work, "hosted-state");
  const env = vms!.env(1, { VM_VIP: HOST_NET.vip });
  // The manager runs no guest and no bridge: it programs the host's.
  const manager = await upFleet("apps/examples/vms", {
    stateDir,
    env,
    args: ["--no-local-host", "--network", "hosts"],
  });
  fleet = manager;
  const bin = join(root, "apps/froctal/dist/main.js");
  const host = await vms!.startHost(manager.url, stateDir, env, [
    ...["--network", `ovs:${hostBridge},${HOST_NET.subnet}`, "--ovs-run-dir", ovs.options.runDir],
    ...["--ovs-bin-dir", OVS_BIN_DIR],
  ]);
  try {
    const id = await eventually(
      async () => {
        const s = await manager.status();
        const ready = vm(s).instances.filter((i) => i.phase === "ready" && i.connected);
        if (ready.length !== 1 || s.rollout !== null) return undefined;
        return (await groupBackends(hostBridge)).length === 1 ? ready[0]!.id : undefined;
      },
      "the VM on the host ready, connected and in the host bridge's group",
      180_000,
    );
    const [port] = await portsOnBridge(`${hostBridge}/host-vmhost`);
    expect(port?.instance).toBe(id);
    expect(await groupBackends(hostBridge)).toEqual([port!.address]);
    expect((await manager.status()).network?.driver).toBe(`openvswitch bridge ${hostBridge} on host vmhost`);
    const [domain] = await domainsOfThisRun();
    expect(await virsh("dumpxml", domain!)).toContain(`<target dev='${port!.tap}' managed='no'/>`);

    await ports.plug({ ...HOST_CLIENT, bridge: hostBridge });
    expect(new Set(await ask(6, HOST_CLIENT.instanceId, HOST_NET.vip))).toEqual(new Set([id]));

    // froctal down stops the fleet: the domain goes, and its tap with it.
    await run(process.execPath, [bin, "down", "--url", manager.url]);
    await new Promise((r) => manager.process.once("exit", r));
    fleet = undefined;
    expect(await domainsOfThisRun()).toEqual([]);
    await eventually(
      async () => ((await portsOnBridge(`${hostBridge}/host-vmhost`)).length === 0 ? true : undefined),
      "the VM's tap gone from the host's bridge",
      10_000,
    );
  } finally {
    await host.stop();
  }
}, 600_000);

test("--network refuses a fleet module whose driver does not put its guests on the network", async () => {
  const refused = await upFleet("tools/e2e/src/own-driver-fleet.mjs", {
    args: ["--network", `ovs:${bridge},${SUBNET}`, "--ovs-run-dir", ovs.options.runDir, "--ovs-bin-dir", OVS_BIN_DIR],
  }).then(
    () => "started",
    (error: Error) => error.message,
  );
  expect(refused).toContain("the manager exited with 2");
  expect(refused).toContain(
    "froctal: FROCTAL_E_CONFIG: --network puts guests on a bridge, and this fleet module's driver does not",
  );
});
