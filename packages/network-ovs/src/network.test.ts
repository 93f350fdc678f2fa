import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import type { NetworkSpec } from "@froctal/manager";
import { type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import type { FroctalError } from "@froctal/primitives";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../test/failure.js";
import { type GuestPorts, openGuestPorts } from "./guest-ports.js";
import { guestPortNames } from "./guest-spec.js";
import { type OvsNetwork, openOvsNetwork } from "./network.js";

const run = promisify(execFile);
const VIP = "10.77.0.100";
const PORT = 8080;
const SUBNET = "10.77.0.0/24";
const POOL = { first: "10.77.0.10", last: "10.77.0.99" };
const service = (...backends: string[]): NetworkSpec => ({ services: { web: { vip: VIP, port: PORT, backends } } });
const ROUTED: NetworkSpec = {
  ...service("web-1", "web-2", "web-3", "web-4"),
  routes: [
    { prefix: "10.9.1.0/24", via: "web-2" },
    { prefix: "10.9.0.0/16", via: "web-1" },
  ],
};

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`not within ${ms} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** A process whose stdout is read line by line: `next()` resolves with the next line. */
function lines(child: ChildProcess): { next(): Promise<string>; count(line: string): number } {
  const queue: string[] = [];
  const all: string[] = [];
  const waiting: Array<(line: string) => void> = [];
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (line) => {
    all.push(line);
    const waiter = waiting.shift();
    if (waiter === undefined) queue.push(line);
    else waiter(line);
  });
  return {
    next: () => {
      const line = queue.shift();
      return line !== undefined ? Promise.resolve(line) : new Promise((resolve) => waiting.push(resolve));
    },
    count: (line) => all.filter((one) => one === line).length,
  };
}

/** An HTTP server on :8080 answering with its instance id, keeping idle connections open; logs each new connection. */
const SERVER =
  "const id=process.argv[1],s=require('node:http').createServer((q,r)=>r.end(id));s.keepAliveTimeout=0;" +
  "s.on('connection',()=>console.log('connection'));s.listen(8080,'0.0.0.0',()=>console.log('listening'))";
/** One kept-alive connection to the VIP; each line on stdin sends a request on it and prints the answer and local port. */
const CLIENT =
  "const http=require('node:http'),agent=new http.Agent({keepAlive:true,maxSockets:1});" +
  "require('node:readline').createInterface({input:process.stdin}).on('line',()=>{" +
  `const q=http.get({host:'${VIP}',port:${PORT},agent},(r)=>{let b='';r.on('data',(d)=>b+=d);` +
  "r.on('end',()=>console.log(JSON.stringify({body:b,port:q.socket.localPort})))});" +
  "q.on('error',(e)=>console.log(JSON.stringify({error:e.message})))})";

describe("openOvsNetwork on a private Open vSwitch", () => {
  let fixture: PrivateOvs;
  let bridge: string;
  let network: OvsNetwork;
  let clients: GuestPorts;
  const scope = randomBytes(8).toString("hex");
  const errors: FroctalError[] = [];
  const children: ChildProcess[] = [];
  const servers = new Map<string, ReturnType<typeof lines>>();
  let generation = 0;

  const target = () => `unix:${fixture.dir}/${bridge}.mgmt`;
  /** The lines ovs-ofctl printed, each trimmed, sorted: it dumps in an order of its own. */
  const sorted = (text: string) =>
    text
      .trim()
      .split("\n")
      .map((line) => line.trim())
      .sort()
      .join("\n");
  const ours = async () =>
    sorted(await fixture.ofctl("--no-stats", "dump-flows", target(), `cookie=${network.owner.cookie}/-1`));
  const groups = async () => sorted(await fixture.ofctl("dump-groups", target()));
  const snapshot = async () =>
    `${sorted(await fixture.ofctl("--no-stats", "dump-flows", target()))}\n${await groups()}`;

  async function apply(spec: NetworkSpec): Promise<void> {
    generation++;
    await network.driver.prepare(generation, spec);
    await network.driver.commit(generation);
  }

  async function backend(id: string): Promise<void> {
    const [file = "", ...args] = await network.guests.join({ instanceId: id });
    const child = spawn(file, [...args, process.execPath, "-e", SERVER, id], { stdio: ["ignore", "pipe", "inherit"] });
    children.push(child);
    const out = lines(child);
    expect(await out.next()).toBe("listening");
    servers.set(id, out);
  }

  /** `count` requests, each on a new connection (a curl each), from the client's namespace: who answered each. */
  async function requests(count: number): Promise<string[]> {
    const answers: string[] = [];
    for (let i = 0; i < count; i++) {
      const { file, args } = clients.command("client", ["/usr/bin/curl", "-s", "-m", "3", `http://${VIP}:${PORT}/`]);
      answers.push((await run(file, args)).stdout);
    }
    return answers;
  }

  let cleaned = false;
  let killed = false;
  async function cleanUp(): Promise<void> {
    if (cleaned) return;
    cleaned = true;
    // Unplugging waits for ovs-vswitchd to apply it: a test that failed with it killed leaves it to start again.
    if (killed) await fixture.restartVswitchd();
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    network?.close();
    for (const id of network?.guests.list().keys() ?? []) await network.guests.leave(id);
    await clients?.unplug("client");
    await fixture?.stop();
  }

  beforeAll(async () => {
    fixture = await startPrivateOvs();
    bridge = fixture.bridgeName();
    network = await openOvsNetwork({
      ...fixture.options,
      bridge,
      subnet: SUBNET,
      pool: POOL,
      scope,
      convergeMs: 100,
      onError: (error) => errors.push(error),
    });
    clients = openGuestPorts({ ...fixture.options, scope: `${scope}-clients` });
    await clients.plug({ instanceId: "client", bridge, address: "10.77.0.200/24", mac: "02:00:0a:4d:00:c8" });
    for (const id of ["web-1", "web-2", "web-3"]) await backend(id);
  });
  afterAll(cleanUp, 60_000);

  it("gives guests addresses of the pool, MACs derived from them, and a prefix that runs in their namespace", async () => {
    const guests = [...network.guests.list().values()].map(({ instanceId, address, mac }) => ({
      instanceId,
      address,
      mac,
    }));
    expect(guests).toEqual([
      { instanceId: "web-1", address: 0x0a4d000a, mac: "02:00:0a:4d:00:0a" },
      { instanceId: "web-2", address: 0x0a4d000b, mac: "02:00:0a:4d:00:0b" },
      { instanceId: "web-3", address: 0x0a4d000c, mac: "02:00:0a:4d:00:0c" },
    ]);
    const [file = "", ...args] = await network.guests.join({ instanceId: "probe" });
    const { stdout } = await run(file, [...args, "/usr/sbin/ip", "-br", "-4", "address", "show", "eth0"]);
    expect(stdout.trim().split(/\s+/).slice(-1)).toEqual(["10.77.0.13/24"]);
    await network.guests.leave("probe");
    expect(network.guests.get("probe")).toBeUndefined();
    expect(network.driver.description).toBe(`openvswitch bridge ${bridge}`);
  });

  it("plugs a VM in with a tap (joinNic), and removes what a run killed with its guests left of an instance, saying so", async () => {
    const nic = await network.nics.join("vm-probe");
    const known = network.guests.get("vm-probe")!;
    expect(nic).toEqual({
      tap: guestPortNames(scope, "vm-probe").hostInterface,
      mac: known.mac,
      address: `${[24, 16, 8, 0].map((shift) => (known.address >>> shift) & 255).join(".")}/24`,
    });
    expect((await run("ip", ["-details", "-o", "link", "show", nic.tap])).stdout).toContain(" tun type tap ");
    await network.nics.leave("vm-probe");
    await expect(run("ip", ["link", "show", nic.tap])).rejects.toThrow(/does not exist/);

    // A namespace of an instance this network does not know: another run's (a database or bridge since gone).
    const other = openGuestPorts({ ...fixture.options, scope });
    await other.plug({ instanceId: "leftover", bridge, address: "10.77.0.98/24" });
    const before = errors.length;
    await network.guests.join({ instanceId: "leftover" });
    expect(errors.splice(before).map((e) => [e.code, e.sentence])).toEqual([
      [
        "FROCTAL_E_CONFIG",
        `instance leftover is plugged already (namespace ${guestPortNames(scope, "leftover").namespace}), left by an earlier run: removed`,
      ],
    ]);
    expect(network.guests.get("leftover")?.ofport).toBe(
      Number(await fixture.vsctl("get", "Interface", guestPortNames(scope, "leftover").hostInterface, "ofport")),
    );
    await network.guests.leave("leftover");
  });

  it("spreads new connections to the VIP over the backends; the client sees the VIP answer", async () => {
    await fixture.ofctl("add-flow", target(), "cookie=0x99,table=5,priority=7,ip,nw_dst=192.0.2.1 actions=drop");
    await apply(service("web-1", "web-2", "web-3"));
    const answers = await requests(30);
    expect(new Set(answers)).toEqual(new Set(["web-1", "web-2", "web-3"]));
    // The ARP responder's answer: the client holds the service MAC for the VIP.
    const { file, args } = clients.command("client", ["/usr/sbin/ip", "neigh", "show", VIP]);
    expect((await run(file, args)).stdout).toContain("lladdr 02:ff:00:00:00:01");
    expect(await fixture.ofctl("--no-stats", "dump-flows", target(), "cookie=0x99/-1")).toContain(
      "cookie=0x99, table=5, priority=7,ip,nw_dst=192.0.2.1 actions=drop",
    );
  });

  it("keeps an established connection on its backend while other backends come and go; a removed one gets no new connection", async () => {
    const { file, args } = clients.command("client", [process.execPath, "-e", CLIENT]);
    const child = spawn(file, args, { stdio: ["pipe", "pipe", "inherit"] });
    children.push(child);
    const out = lines(child);
    const ask = async () => {
      child.stdin?.write("\n");
      return JSON.parse(await out.next()) as { body?: string; port?: number; error?: string };
    };
    const first = await ask();
    expect(first.error).toBeUndefined();
    const held = first.body ?? "";
    const others = ["web-1", "web-2", "web-3"].filter((id) => id !== held);
    const [removed = "", kept = ""] = others;
    // Another backend out: the held connection stays where it is and still answers.
    await apply(service(held, kept));
    expect(await ask()).toEqual(first);
    const before = servers.get(removed)?.count("connection");
    const answers = await requests(20);
    expect(new Set(answers)).toEqual(new Set([held, kept]));
    expect(servers.get(removed)?.count("connection")).toBe(before);
    // It comes back, and a new one joins: still the same connection.
    await backend("web-4");
    await apply(service("web-1", "web-2", "web-3", "web-4"));
    expect(await ask()).toEqual(first);
    expect(new Set(await requests(40))).toEqual(new Set(["web-1", "web-2", "web-3", "web-4"]));
    child.kill("SIGKILL");
  });

  it("drops new connections to a service with no backend; the client times out", async () => {
    await apply(service());
    expect((await groups()).split("\n").filter((line) => line.includes("group_id=1000,"))).toEqual([
      "group_id=1000,type=select,selection_method=hash,fields(ip_src,tcp_src)",
    ]);
    const { file, args } = clients.command("client", ["/usr/bin/curl", "-s", "-m", "1", `http://${VIP}:${PORT}/`]);
    const exit = await run(file, args).then(
      () => 0,
      (error: { code?: number }) => error.code,
    );
    expect(exit).toBe(28); // curl: operation timed out
    await apply(service("web-1", "web-2", "web-3", "web-4"));
    expect(await requests(1)).toHaveLength(1);
  });

  it("refuses an instance that is not on the network, or a bad VIP, port or prefix, and changes nothing", async () => {
    const before = await snapshot();
    const cases: Array<[NetworkSpec, string]> = [
      [service("web-1", "web-9"), "service web: backend web-9 is not on the network"],
      [{ routes: [{ prefix: "10.9.0.0/16", via: "router-1" }] }, "via router-1 is not on the network"],
      [{ services: { web: { vip: "10.77.0.20", port: PORT, backends: [] } } }, "is in the guests' pool"],
      [{ services: { web: { vip: "10.77.0.300", port: PORT, backends: [] } } }, "is not a unicast IPv4 address"],
      [{ services: { web: { vip: VIP, port: 0, backends: [] } } }, "port 0 is not a TCP port"],
      [{ routes: [{ prefix: "10.9.0.1/16", via: "web-1" }] }, "is not an IPv4 prefix with no host bits set"],
    ];
    const { prepares, rejected } = network.stats;
    for (const [spec, sentence] of cases) {
      const error = await failure(network.driver.prepare(++generation, spec));
      expect(error.code).toBe("FROCTAL_E_CONFIG");
      expect(error.sentence).toContain(sentence);
    }
    expect([network.stats.prepares, network.stats.rejected]).toEqual([prepares, rejected + cases.length]);
    await new Promise((resolve) => setTimeout(resolve, 300)); // three converge rounds
    expect(await snapshot()).toBe(before);
  });

  it("leaves the bridge as it was on abort, and the converge loop keeps it on the committed state", async () => {
    const before = await snapshot();
    await network.driver.prepare(++generation, service("web-1"));
    const converges = network.stats.converges;
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(network.stats.converges).toBe(converges); // never beside a staged generation
    network.driver.abort(generation);
    await until("a converge round", () => network.stats.converges > converges);
    expect(await snapshot()).toBe(before);
    expect((await failure(network.driver.commit(generation))).code).toBe("FROCTAL_E_CONFIG");
  });

  it("holds nothing for a generation aborted while it was being prepared: the converge loop goes on", async () => {
    const before = await snapshot();
    const preparing = network.driver.prepare(++generation, service("web-1"));
    network.driver.abort(generation);
    expect((await failure(preparing)).sentence).toBe(`generation ${generation} was aborted`);
    const converges = network.stats.converges;
    await until("a converge round", () => network.stats.converges > converges);
    expect(await snapshot()).toBe(before);
  });

  it("writes the routes as flows, earlier routes higher", async () => {
    await apply(ROUTED);
    const routes = (await ours()).split("\n").filter((line) => line.includes("nw_dst=10.9."));
    expect(routes.map((line) => line.trim().replace(/^cookie=0x[0-9a-f]+, /, ""))).toEqual([
      "table=2, priority=29999,ip,nw_dst=10.9.0.0/16 actions=set_field:02:00:0a:4d:00:0a->eth_dst,output:2",
      "table=2, priority=30000,ip,nw_dst=10.9.1.0/24 actions=set_field:02:00:0a:4d:00:0b->eth_dst,output:3",
    ]);
  });

  it("nacks while ovs-vswitchd is dead, and converges the bridge again when it is back, nothing twice", async () => {
    const flows = await ours();
    const before = `${flows}\n${await groups()}`;
    const count = flows.split("\n").length;
    await network.driver.prepare(++generation, service("web-1"));
    const staged = generation;
    await fixture.killVswitchd();
    killed = true;
    const refused = await failure(network.driver.commit(staged));
    expect(refused.code, refused.sentence).toBe("FROCTAL_E_TRANSPORT");
    expect((await failure(network.driver.prepare(++generation, service("web-1")))).code).toBe("FROCTAL_E_TRANSPORT");
    const failures = network.stats.failures;
    await until("a failed converge round", () => network.stats.failures > failures);
    expect(errors.length).toBe(network.stats.failures);
    expect(new Set(errors.map((error) => error.code))).toEqual(new Set(["FROCTAL_E_TRANSPORT"]));
    const reapplied = network.stats.reapplied;
    await fixture.restartVswitchd();
    killed = false;
    await until("the flows re-applied", () => network.stats.reapplied > reapplied, 10_000);
    const after = await ours();
    expect(`${after}\n${await groups()}`).toBe(before);
    expect(after.split("\n").length).toBe(count);
    expect(new Set(await requests(30))).toEqual(new Set(["web-1", "web-2", "web-3", "web-4"]));
  });

  it("knows its guests again when opened anew on the same bridge and scope, and changes nothing for the same spec", async () => {
    network.close();
    const again = await openOvsNetwork({
      ...fixture.options,
      bridge,
      subnet: SUBNET,
      pool: POOL,
      scope,
      convergeMs: 100,
    });
    try {
      expect([...again.guests.list().values()]).toEqual([...network.guests.list().values()]);
      const before = await snapshot();
      await again.driver.prepare(1, ROUTED);
      await again.driver.commit(1);
      await until("a converge round", () => again.stats.converges > 0);
      expect(await snapshot()).toBe(before);
      expect(again.stats).toEqual({
        prepares: 1,
        commits: 1,
        rejected: 0,
        failures: 0,
        converges: again.stats.converges,
        reapplied: 0,
      });
      // The next address is one neither network handed out.
      await again.guests.join({ instanceId: "web-5" });
      expect(again.guests.get("web-5")?.address).toBe(0x0a4d000e);
      await again.guests.leave("web-5");
    } finally {
      again.close();
    }
  });

  it("changes a service of 20 backends one backend at a time: the group holds exactly the 20 of the spec", async () => {
    const ids = Array.from({ length: 21 }, (_, i) => `web-${i + 1}`);
    for (const id of ids.slice(4)) await network.guests.join({ instanceId: id });
    // Timed in tools/bench (network.ts), not here.
    for (let i = 0; i < 21; i++) await apply(service(...ids.filter((_, index) => index !== i)));
    const group = (await groups()).split("\n").find((line) => line.includes("group_id=1000,"));
    expect(group?.split(",bucket=").length).toBe(21); // 20 buckets: all but web-21
    expect(group).not.toContain("nat(dst=10.77.0.30:8080)");
  });

  it("leaves no namespace, veth or daemon behind", async () => {
    const names = [...network.guests.list().keys()].map((id) => guestPortNames(scope, id));
    names.push(clients.names("client"));
    expect(names.length).toBe(22);
    await cleanUp();
    const namespaces = (await run("ip", ["netns", "list"])).stdout;
    const links = (await run("ip", ["-o", "link", "show"])).stdout;
    for (const { namespace, hostInterface } of names) {
      expect(namespaces).not.toContain(namespace);
      expect(links).not.toContain(hostInterface);
    }
    expect(links).not.toContain(bridge);
  });
});
