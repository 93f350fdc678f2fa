/**
 * The self-scaling scenario on Open vSwitch, end to end: the froctal binary
 * runs apps/examples/autoscale/dist/ovs.js with --network on a private Open
 * vSwitch (its own ovsdb-server and ovs-vswitchd, @froctal/ovs-switch); each
 * web guest sits in a network namespace of its own on the bridge. A client in
 * a namespace of its own sends a load ramp to the VIP, one new connection per
 * request: web scales out and in with 0 failed requests, the requests spread
 * over the backends, a backend removed from the select group gets no request
 * sent after its removal, and the group on the bridge holds exactly the ready
 * guests once the fleet settles; `froctal replay` of its recording repeats
 * every decision, the network's generations included. Then ovs-vswitchd is killed under a running
 * fleet and started again: the manager's network puts its flows back. And a
 * manager killed with -9 leaves namespaces the next run frees.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ManagerStatus } from "@froctal/manager";
import { type GuestPorts, guestPortNames, openGuestPorts } from "@froctal/network-ovs";
import { OVS_BIN_DIR, type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { chromium } from "playwright-core";
import { afterAll, beforeAll, expect, test } from "vitest";
import { eventually, guestsOf, journalOf, type RunningFleet, root, upFleet } from "./fleet.js";

const VIP = "http://10.77.0.10:8080";
const CLIENT = { instanceId: "e2e-client", address: "10.77.0.20/24", mac: "02:00:0a:4d:00:14" };

let ovs: PrivateOvs;
let bridge: string;
let ports: GuestPorts;
let fleet: RunningFleet | undefined;
let client: ChildProcess | undefined;

// A private Open vSwitch runs one at a time per host: another test file may hold it for a while.
beforeAll(async () => {
  ovs = await startPrivateOvs();
  bridge = ovs.bridgeName();
  ports = openGuestPorts({ ...ovs.options, scope: randomBytes(8).toString("hex") });
}, 150_000);

afterAll(async () => {
  client?.kill("SIGKILL");
  await fleet?.stop();
  await ports?.unplug(CLIENT.instanceId);
  await ovs?.stop();
});

interface Served {
  readonly ok: number;
  readonly failed: number;
  readonly failures: readonly string[];
  /** [sent at (epoch ms), instance that answered] per request. */
  readonly served: readonly (readonly [number, string])[];
}

/** The load client in its namespace: `rate(n)` changes the rate, `stop()` ends it and reads what it counted. */
function startClient(rate: number) {
  const script = fileURLToPath(new URL("./vip-load.mjs", import.meta.url));
  const { file, args } = ports.command(CLIENT.instanceId, [process.execPath, script, VIP, String(rate)]);
  const child = spawn(file, args, { stdio: ["pipe", "pipe", "inherit"] });
  client = child;
  let out = "";
  child.stdout!.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    rate: (n: number) => child.stdin!.write(`rate ${n}\n`),
    stop: async (): Promise<Served> => {
      child.stdin!.write("stop\n");
      await exited;
      client = undefined;
      return JSON.parse(out) as Served;
    },
  };
}

/** The backends' addresses in the service's select group, as the switch holds it now. */
async function groupBackends(): Promise<string[]> {
  const dump = await ovs.ofctl("-O", "OpenFlow15", "dump-groups", bridge);
  return [...dump.matchAll(/nat\(dst=(\d+\.\d+\.\d+\.\d+)/g)].map((m) => m[1]!).sort();
}

const web = (s: ManagerStatus) => s.services.find((x) => x.name === "web")!;
const addressOf = (endpoint: unknown) => new URL(String(endpoint)).hostname;

test("web scales out and in behind the VIP: no failed request, spread, no new connection to a removed backend", async () => {
  const traceDir = mkdtempSync(join(tmpdir(), "froctal-e2e-ovs-trace-"));
  const trace = join(traceDir, "run.trace");
  fleet = await upFleet("apps/examples/autoscale/dist/ovs.js", {
    args: [
      ...["--network", `ovs:${bridge}`, "--ovs-run-dir", ovs.options.runDir, "--ovs-bin-dir", OVS_BIN_DIR],
      ...["--record", trace],
    ],
  });
  const f = fleet;
  const port = new URL(f.url).port;
  // web-1 ready and in the group: the VIP serves.
  await eventually(async () => {
    const w = web(await f.status());
    const ready = w.instances.filter((i) => i.phase === "ready");
    if (ready.length !== 1) return undefined;
    return JSON.stringify(await groupBackends()) === JSON.stringify([addressOf(ready[0]!.endpoint)]) || undefined;
  }, "web-1 ready and in the VIP's group");
  await ports.plug({ ...CLIENT, bridge });

  // Which backends the group held, and when: polled while the load runs.
  const seen: { at: number; backends: string[] }[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      seen.push({ at: Date.now(), backends: await groupBackends() });
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  const addresses = new Map<string, string>(); // instance -> address, as each reported it
  const note = (s: ManagerStatus) => {
    for (const i of web(s).instances) if (typeof i.endpoint === "string") addresses.set(i.id, addressOf(i.endpoint));
  };

  // 140 requests/s at 40 per instance: 4 instances (as the lb scenario, tools/e2e/src/autoscale.test.ts).
  const load = startClient(140);
  await eventually(async () => {
    const s = await f.status();
    note(s);
    const w = web(s);
    const ready = w.instances.filter((i) => i.phase === "ready");
    if (w.target !== 4 || ready.length !== 4) return undefined;
    const want = ready.map((i) => addressOf(i.endpoint)).sort();
    return JSON.stringify(await groupBackends()) === JSON.stringify(want) || undefined;
  }, "web to scale out to 4 ready instances, all in the group");
  const heldFrom = Date.now();
  await new Promise((r) => setTimeout(r, 2_000));
  const heldUntil = Date.now();
  load.rate(10);
  await eventually(
    async () => {
      const s = await f.status();
      note(s);
      const w = web(s);
      if (w.target !== 1 || w.instances.length !== 1 || w.instances[0]!.phase !== "ready") return undefined;
      return (
        JSON.stringify(await groupBackends()) === JSON.stringify([addressOf(w.instances[0]!.endpoint)]) || undefined
      );
    },
    "web to scale in to one instance, alone in the group",
    60_000,
  );
  const result = await load.stop();
  polling = false;
  await poll;

  expect(result.failures).toEqual([]);
  expect(result.failed).toBe(0);
  expect(result.ok).toBeGreaterThan(300);
  // While 4 were ready and in the group, each of them answered.
  const held = new Set(result.served.filter(([at]) => at >= heldFrom && at <= heldUntil).map(([, id]) => id));
  expect(held.size).toBe(4);
  // A backend taken out of the group answers no request sent after that: new connections never reach it.
  const byAddress = new Map([...addresses].map(([id, a]) => [a, id]));
  const removed = new Map<string, number>();
  for (let k = 1; k < seen.length; k++) {
    for (const a of seen[k - 1]!.backends) {
      if (!seen[k]!.backends.includes(a) && !removed.has(a)) removed.set(a, seen[k]!.at);
    }
  }
  expect(removed.size).toBe(3);
  for (const [address, at] of removed) {
    const id = byAddress.get(address)!;
    expect(result.served.filter(([sent, by]) => by === id && sent > at)).toEqual([]);
  }
  // Each of the three stopped guests drained first.
  const journal = journalOf(f);

  expect(journal.filter((m) => /^stopping web-\d+: it finished draining/.test(m))).toHaveLength(3);

  const guests = `http://10.77.0.1:${port}`;
  expect(guestsOf(guests)).toHaveLength(1);
  expect(await f.stop()).toBe(0);
  fleet = undefined;
  expect(guestsOf(guests)).toEqual([]);
  // The run was recorded: a replay answers for the network as the trace says, and decides exactly what it decided.
  const DECISIONS = new Set(["scale", "start", "drain", "stop", "rollout"]);
  const live = f.logs.flatMap((l) => {
    const e = l.startsWith("{") ? (JSON.parse(l) as { kind?: string; msg?: string }) : {};
    return e.kind !== undefined && DECISIONS.has(e.kind) ? [e.msg] : [];
  });
  // (How many generations the network took depends on how the guests' readiness fell into ticks.)
  expect(live.some((m) => /^generation \d+ committed on network$/.test(m ?? ""))).toBe(true);
  const replayed = execFileSync(
    process.execPath,
    [join(root, "apps/froctal/dist/main.js"), "replay", trace, "--json"],
    {
      encoding: "utf8",
      maxBuffer: 64 << 20,
    },
  );
  expect(
    replayed
      .trim()
      .split("\n")
      .map((l) => (JSON.parse(l) as { message: string }).message),
  ).toEqual(live);
  rmSync(traceDir, { recursive: true, force: true });
  // Each guest's namespace went with it (the manager scopes its names by the fleet's name).
  const namespaces = execFileSync("/usr/sbin/ip", ["netns", "list"], { encoding: "utf8" });
  const ours = [...addresses.keys()].map((id) => guestPortNames("autoscale-ovs", id).namespace);
  expect(ours.filter((ns) => namespaces.includes(ns))).toEqual([]);
  expect(ours).toHaveLength(4);
});

test("ovs-vswitchd killed under a running fleet: the switch's flows come back when it does, the same guest serves", async () => {
  // A bridge of its own, the one before gone: the host routes the subnet to one bridge only.
  await ovs.vsctl("--if-exists", "del-br", bridge);
  bridge = ovs.bridgeName();
  fleet = await upFleet("apps/examples/autoscale/dist/ovs.js", {
    args: ["--network", `ovs:${bridge}`, "--ovs-run-dir", ovs.options.runDir, "--ovs-bin-dir", OVS_BIN_DIR],
  });
  const f = fleet;
  const serving = async () => {
    try {
      const res = await fetch(`${VIP}/?work=1`, { signal: AbortSignal.timeout(1_000) });
      return res.status === 200 ? ((await res.json()) as { instance: string }).instance : undefined;
    } catch {
      return undefined;
    }
  };
  // From the host: the manager's address is on the bridge, so the host reaches the VIP too.
  expect(await eventually(serving, "the VIP to answer")).toBe("web-1");
  const flows = async () => (await ovs.ofctl("--no-stats", "dump-flows", bridge)).split("\n").sort().join("\n");
  const before = { flows: await flows(), groups: await groupBackends() };

  await ovs.killVswitchd();
  expect(await serving()).toBeUndefined();
  await new Promise((r) => setTimeout(r, 2_000));
  await ovs.restartVswitchd();
  // Level-triggered: the manager's network reads the bridge back and puts its flows and group there again, once.
  await eventually(async () => ((await flows()) === before.flows ? true : undefined), "the flows back as they were");
  expect(await groupBackends()).toEqual(before.groups);
  expect(await eventually(serving, "the VIP to answer again")).toBe("web-1");
  // What the converge loop met meanwhile, logged: the switch not answering, and nothing else.
  const codes = f.logs.flatMap((l) => (l.includes(`network on ${bridge}:`) ? [JSON.parse(l).code as string] : []));
  expect(new Set(codes)).toEqual(new Set(["FROCTAL_E_TRANSPORT"]));
  // /metrics counts the same: each failed round, and the one that put the switch back.
  const metrics = (await (await fetch(`${f.url}/metrics`)).text()).split("\n");
  const driver = `{driver="openvswitch bridge ${bridge}"}`;
  const sample = (name: string) =>
    metrics.find((l) => l.startsWith(`${name}${driver} `))?.slice(`${name}${driver} `.length);
  expect(sample("froctal_network_converge_failures_total")).toBe(String(codes.length));
  expect(sample("froctal_network_reapplied_total")).toBe("1");
  expect(sample("froctal_network_generation")).toBe(String((await f.status()).network?.generation));
  const web1 = web(await f.status()).instances;
  expect(web1.map((i) => [i.id, i.phase])).toEqual([["web-1", "ready"]]);
  // The dashboard names the network too (Debian's chromium, as dashboard.test.ts runs it).
  const browser = await chromium.launch({ executablePath: "/usr/bin/chromium" });
  try {
    const page = await browser.newPage();
    await page.goto(f.url);
    const shown = page.locator("[data-testid=network]");
    await eventually(async () => ((await shown.count()) === 1 ? true : undefined), "the dashboard's network line");
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees, not the DOM's.
    expect(await shown.innerText()).toBe(
      `network: openvswitch bridge ${bridge}, generation ${(await f.status()).network?.generation}`,
    );
  } finally {
    await browser.close();
  }
  expect(await f.stop()).toBe(0);
  fleet = undefined;
});

test("a manager killed with -9 leaves its guests' namespaces; the next run on its state frees them first", async () => {
  await ovs.vsctl("--if-exists", "del-br", bridge);
  bridge = ovs.bridgeName();
  const stateDir = mkdtempSync(join(tmpdir(), "froctal-e2e-state-"));
  const args = ["--network", `ovs:${bridge}`, "--ovs-run-dir", ovs.options.runDir, "--ovs-bin-dir", OVS_BIN_DIR];
  const namespaceOf = (id: string) => guestPortNames("autoscale-ovs", id).namespace;
  const namespaces = () => execFileSync("/usr/sbin/ip", ["netns", "list"], { encoding: "utf8" });
  try {
    const first = await upFleet("apps/examples/autoscale/dist/ovs.js", { stateDir, args });
    fleet = first;
    await eventually(async () => {
      const ready = web(await first.status()).instances.filter((i) => i.phase === "ready");
      return ready.length === 1 && addressOf(ready[0]!.endpoint) === "10.77.0.64" ? true : undefined;
    }, "web-1 ready at the pool's first address");
    const guests = `http://10.77.0.1:${new URL(first.url).port}`;
    first.process.kill("SIGKILL");
    await eventually(async () => (guestsOf(guests).length === 0 ? true : undefined), "web-1 to die with its manager");
    fleet = undefined;
    expect(namespaces()).toContain(namespaceOf("web-1"));

    const second = await upFleet("apps/examples/autoscale/dist/ovs.js", { stateDir, args });
    fleet = second;
    // A new instance (ids are never given twice) at the address web-1 no longer holds, serving at the VIP.
    await eventually(async () => {
      const ready = web(await second.status()).instances.filter((i) => i.phase === "ready");
      return ready.length === 1 && ready[0]!.id === "web-2" && addressOf(ready[0]!.endpoint) === "10.77.0.64"
        ? true
        : undefined;
    }, "web-2 ready at the freed address");
    expect(namespaces()).not.toContain(namespaceOf("web-1"));
    expect(
      second.logs.filter((l) => l.includes("left the bridge with the run before")).map((l) => JSON.parse(l).instance),
    ).toEqual(["web-1"]);
    expect(await second.stop()).toBe(0);
    fleet = undefined;
    expect(namespaces()).not.toContain(namespaceOf("web-2"));
  } finally {
    rmSync(stateDir, { recursive: true, force: true });
  }
});
