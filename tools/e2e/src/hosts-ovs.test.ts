/**
 * Hosts on bridges of their own: a manager that runs no guest (`--no-local-host
 * --network hosts`) and two `froctal host`s, each with `--network` on a bridge
 * of its own (one private Open vSwitch, two bridges, two subnets: the bridges
 * are not linked). Each host's web guest runs in a namespace on its host's
 * bridge and reaches the manager through its host. The fleet's VIP is served
 * on each bridge by that host's backend alone: a client on host a's bridge is
 * answered by a's guest only, one on b's by b's only, and each bridge's group
 * holds its own guest. Then host b's daemon is restarted: it gets the
 * committed network again, and its bridge still serves.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { type GuestPorts, guestPortNames, openGuestPorts } from "@froctal/network-ovs";
import { OVS_BIN_DIR, type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually } from "./fleet.js";
import {
  credentialFile,
  froctal,
  type HostDaemon,
  kill9,
  logLine,
  startedPerTest,
  startHost,
  startManager,
  tempDir,
  webGuest,
} from "./hosts-fleet.js";

const execFileAsync = promisify(execFile);
const started = startedPerTest();
const VIP = "10.90.0.10";
const HOSTS = [
  { id: "a", subnet: "10.83.0.0/24", client: { address: "10.83.0.20/24", mac: "02:00:0a:53:00:14" } },
  { id: "b", subnet: "10.84.0.0/24", client: { address: "10.84.0.20/24", mac: "02:00:0a:54:00:14" } },
] as const;

let ovs: PrivateOvs;
let ports: GuestPorts;
const bridges = new Map<string, string>();
const clients: string[] = [];

beforeAll(async () => {
  ovs = await startPrivateOvs();
  ports = openGuestPorts({ ...ovs.options, scope: randomBytes(8).toString("hex") });
  for (const h of HOSTS) bridges.set(h.id, ovs.bridgeName());
}, 150_000);

afterAll(async () => {
  for (const id of clients) await ports.unplug(id);
  // Whatever a failed run's hosts left (killed with their guests): the namespaces their networks made.
  for (const { id } of HOSTS) {
    const left = openGuestPorts({ ...ovs.options, scope: `host-${id}` });
    for (let n = 1; n <= 6; n++) await left.unplug(`web-${n}`);
  }
  await ovs?.stop();
});

/** Two web guests, one per host, each listening on 0.0.0.0:8080 in its namespace, served at the VIP. */
function writeFleet(dir: string): string {
  const file = join(dir, "fleet.mjs");
  writeFileSync(
    file,
    `export default {
  name: "hosts-ovs",
  services: { web: { image: ${JSON.stringify(webGuest)}, replicas: 2, env: { HOST: "0.0.0.0", PORT: "8080" } } },
  placement: (service, up) => {
    const fewest = (x, y) => x.guestsOf(service) - y.guestsOf(service) || (x.id < y.id ? -1 : 1);
    return up.length < 2 ? undefined : [...up].sort(fewest)[0].id;
  },
  network: (fleet) => ({
    services: { web: { vip: ${JSON.stringify(VIP)}, port: 8080, backends: fleet.service("web").ready.map((i) => i.id) } },
  }),
};
`,
  );
  return file;
}

/** The backends' addresses in the VIP's select group on one bridge, as the switch holds it now. */
async function groupOn(bridge: string): Promise<string[]> {
  const dump = await ovs.ofctl("-O", "OpenFlow15", "dump-groups", bridge);
  return [...dump.matchAll(/nat\(dst=(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!).sort();
}

/** A client namespace on a host's bridge, with a route to the VIP over it. */
async function plugClient(host: (typeof HOSTS)[number]): Promise<string> {
  const instanceId = `e2e-client-${host.id}`;
  clients.push(instanceId);
  await ports.plug({ instanceId, bridge: bridges.get(host.id)!, ...host.client });
  await run(ports.command(instanceId, ["ip", "route", "add", `${VIP}/32`, "dev", "eth0"]));
  return instanceId;
}

async function run(argv: { file: string; args: readonly string[] }): Promise<string> {
  return (await execFileAsync(argv.file, [...argv.args], { timeout: 20_000 })).stdout;
}

/** `count` requests to the VIP from a client namespace, a new connection each: the instance that answered each. */
async function ask(client: string, count: number): Promise<string[]> {
  const answers: string[] = [];
  for (let i = 0; i < count; i++) {
    const out = await run(ports.command(client, ["curl", "-sS", "--max-time", "5", `http://${VIP}:8080/`]));
    answers.push((JSON.parse(out) as { instance: string }).instance);
  }
  return answers;
}

test("each host's bridge serves the VIP with its own guest; a restarted host gets the committed network again", async () => {
  const s = started();
  const dir = tempDir(s, "froctal-e2e-hosts-ovs-");
  const fleet = writeFleet(dir);
  const stateDir = join(dir, "manager");
  const port = 17000 + Math.floor(Math.random() * 2000);
  const manager = await startManager(s, { fleet, port, stateDir, graceMs: 10_000, args: ["--network", "hosts"] });
  const hostArgs = (id: string) => {
    const h = HOSTS.find((x) => x.id === id)!;
    return [
      ...["--network", `ovs:${bridges.get(id)},${h.subnet}`],
      ...["--ovs-run-dir", ovs.options.runDir, "--ovs-bin-dir", OVS_BIN_DIR],
    ];
  };
  const daemons = new Map<string, HostDaemon>();
  for (const { id } of HOSTS) {
    daemons.set(
      id,
      startHost(s, {
        manager: manager.url,
        id,
        credentialFile: await credentialFile(fleet, stateDir, id, dir),
        stateDir: join(dir, `host-${id}`),
        args: hostArgs(id),
      }),
    );
  }

  // One guest on each host, ready (it reached the manager through its host), and alone in its bridge's group.
  const placed = await eventually(
    async () => {
      const st = await manager.status();
      const web = st.services.find((x) => x.name === "web")!;
      const ready = web.instances.filter((i) => i.phase === "ready" && i.connected);
      if (ready.length !== 2 || st.rollout !== null) return undefined;
      const byHost = new Map(ready.map((i) => [st.placement[i.id]!, i]));
      if (byHost.size !== 2) return undefined;
      for (const { id } of HOSTS) {
        const address = new URL(String(byHost.get(id)!.endpoint)).hostname;
        if (JSON.stringify(await groupOn(bridges.get(id)!)) !== JSON.stringify([address])) return undefined;
      }
      return byHost;
    },
    "a ready guest on each host, alone in its own bridge's group",
    90_000,
  );
  const st = await manager.status();
  expect(st.network?.driver).toBe(
    HOSTS.map(({ id }) => `openvswitch bridge ${bridges.get(id)} on host ${id}`).join("; "),
  );
  for (const h of HOSTS) {
    const address = new URL(String(placed.get(h.id)!.endpoint)).hostname;
    expect(address.startsWith(h.subnet.slice(0, -4))).toBe(true);
  }

  // A client on each bridge: the VIP answers from that host's guest, every time.
  const clientOf = new Map<string, string>();
  for (const h of HOSTS) clientOf.set(h.id, await plugClient(h));
  for (const { id } of HOSTS) {
    expect(new Set(await ask(clientOf.get(id)!, 8))).toEqual(new Set([placed.get(id)!.id]));
  }

  // Host b's daemon dies and comes back: its guest was adopted, its bridge is given the committed network again.
  await kill9(daemons.get("b")!);
  const again = startHost(s, {
    manager: manager.url,
    id: "b",
    credentialFile: join(dir, "b.credential"),
    stateDir: join(dir, "host-b"),
    args: hostArgs("b"),
  });
  await eventually(async () => {
    const hosts = (await manager.status()).hosts;
    return hosts.find((h) => h.id === "b")?.status === "up" ? true : undefined;
  }, "host b up again");
  const committed = (await manager.status()).network!.generation;
  await logLine(again, (e) =>
    e.msg === `network generation ${committed} committed on openvswitch bridge ${bridges.get("b")}` ? true : undefined,
  );
  expect(new Set(await ask(clientOf.get("b")!, 4))).toEqual(new Set([placed.get("b")!.id]));

  // froctal down stops the fleet: each guest's namespace goes with it, on its host (b's adopted one too).
  await froctal(["down", "--url", manager.url]);
  expect(await manager.exited).toBe(0);
  const names = HOSTS.map(({ id }) => guestPortNames(`host-${id}`, placed.get(id)!.id).namespace);
  await eventually(
    async () => {
      const namespaces = await run({ file: "ip", args: ["netns", "list"] });
      return names.every((name) => !namespaces.includes(name)) || undefined;
    },
    "both guests' namespaces gone",
    10_000,
  );
}, 240_000);
