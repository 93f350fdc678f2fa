import { type ChildProcess, execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { stat } from "node:fs/promises";
import { promisify } from "node:util";
import { type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../test/failure.js";
import { type GuestPorts, openGuestPorts } from "./guest-ports.js";
import type { GuestPortSpec } from "./guest-spec.js";
import { netnsCommand } from "./ip.js";
import { type Ovs, openOvs } from "./ovs.js";
import type { Owner } from "./state.js";

const run = promisify(execFile);
const owner: Owner = { cookie: 0xf0c7a2n, groupIds: { min: 100, max: 199 } };
const NORMAL = { flows: [{ table: 0, priority: 0, match: "", actions: "NORMAL" }], groups: [] };

const succeeds = (file: string, args: string[]) =>
  run(file, args).then(
    () => true,
    () => false,
  );

/** A node HTTP server in the instance's namespace, answering with the interfaces it sees and who asked; resolves once it listens. */
function serveIn(ports: GuestPorts, instanceId: string, address: string): Promise<ChildProcess> {
  const script =
    "const http=require('node:http'),os=require('node:os');" +
    "http.createServer((q,r)=>r.end(JSON.stringify({interfaces:Object.keys(os.networkInterfaces()).sort(),from:q.socket.remoteAddress})))" +
    `.listen(8080,'${address}',()=>console.log('listening'))`;
  const { file, args } = ports.command(instanceId, [process.execPath, "-e", script]);
  const child = spawn(file, args, { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the server exited (${code}) before listening`)));
    child.stdout?.once("data", () => resolve(child));
  });
}

describe("openGuestPorts on a private Open vSwitch", () => {
  let fixture: PrivateOvs;
  let ovs: Ovs;
  let ports: GuestPorts;
  const tried = new Set<string>();
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    fixture = await startPrivateOvs();
    ovs = openOvs(fixture.options);
    // A scope of its own: names no other test file (nor a manager) on this host derives.
    ports = openGuestPorts({ ...fixture.options, scope: randomBytes(8).toString("hex") });
  });
  afterEach(async () => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill("SIGKILL");
    // Every instance is unplugged even if one unplug fails; the first failure then fails the test.
    const failures: unknown[] = [];
    for (const id of tried) await ports.unplug(id).catch((error: unknown) => failures.push(error));
    tried.clear();
    if (failures.length > 0) throw failures[0];
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  /** A bridge with no flow at all (add-br's default NORMAL flow, cookie 0, deleted). */
  async function bridgeUp(): Promise<string> {
    const bridge = fixture.bridgeName();
    await ovs.addBridge(bridge);
    await fixture.ofctl("del-flows", `unix:${fixture.dir}/${bridge}.mgmt`);
    return bridge;
  }

  function plug(spec: GuestPortSpec) {
    tried.add(spec.instanceId); // before the call: afterEach unplugs whatever it may have left
    return ports.plug(spec);
  }

  /** Whether anything of the instance's plug is on this host: namespace, veth, bridge port. */
  async function leftovers(instanceId: string, bridge: string): Promise<string[]> {
    const { namespace, hostInterface } = ports.names(instanceId);
    const found: string[] = [];
    if (existsSync(`/run/netns/${namespace}`)) found.push(`namespace ${namespace}`);
    if (await succeeds("ip", ["link", "show", hostInterface])) found.push(`link ${hostInterface}`);
    const bridgePorts = await fixture.vsctl("list-ports", bridge).catch(() => "");
    if (bridgePorts.split("\n").includes(hostInterface)) found.push(`port ${hostInterface}`);
    if ((await fixture.vsctl("--bare", "--columns=name", "find", "Port", `name=${hostInterface}`)).trim() !== "") {
      found.push(`port record ${hostInterface}`);
    }
    return found;
  }

  it("two guests on one bridge ping each other and talk HTTP, once the owner's NORMAL flow is applied", {
    timeout: 20_000,
  }, async () => {
    const bridge = await bridgeUp();
    const a = await plug({ instanceId: "a", bridge, address: "10.77.0.1/24", mac: "02:00:00:77:00:01" });
    const b = await plug({ instanceId: "b", bridge, address: "10.77.0.2/24" });
    expect(a).toEqual({
      instanceId: "a",
      bridge,
      ...ports.names("a"),
      guestInterface: "eth0",
      ofport: Number(await fixture.vsctl("get", "Interface", a.hostInterface, "ofport")),
      address: "10.77.0.1/24",
      mac: "02:00:00:77:00:01",
    });
    expect(b.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/);
    expect((await fixture.vsctl("list-ports", bridge)).split("\n").filter(Boolean).sort()).toEqual(
      [a.hostInterface, b.hostInterface].sort(),
    );
    expect(new Set([a.ofport, b.ofport]).size).toBe(2);
    // tx checksum offload off on both ends of both veths.
    for (const port of [a, b]) {
      const host = await run("ethtool", ["-k", port.hostInterface]);
      const guest = await run("ip", ["netns", "exec", port.namespace, "ethtool", "-k", "eth0"]);
      expect([host.stdout, guest.stdout].map((out) => /^tx-checksumming: (\w+)/m.exec(out)?.[1])).toEqual([
        "off",
        "off",
      ]);
    }
    const ping = (wait: string) => netnsCommand(a.namespace, ["ping", "-c", "1", "-W", wait, "10.77.0.2"]);

    // No flow on the bridge: nothing passes.
    const unflowed = ping("1");
    expect(await succeeds(unflowed.file, [...unflowed.args])).toBe(false);

    await ovs.apply(bridge, owner, NORMAL);
    const flowed = ping("2");
    const pinged = await run(flowed.file, [...flowed.args]);
    expect(pinged.stdout).toContain("1 packets transmitted, 1 received, 0% packet loss");

    const server = await serveIn(ports, "b", "10.77.0.2");
    children.push(server);
    // `ip netns exec` execs in place: the pid spawned is the server's own, in b's namespace.
    expect(await run("readlink", [`/proc/${server.pid}/exe`])).toMatchObject({ stdout: `${process.execPath}\n` });
    expect((await stat(`/proc/${server.pid}/ns/net`)).ino).toBe((await stat(`/run/netns/${b.namespace}`)).ino);
    const curl = netnsCommand(a.namespace, ["curl", "-sS", "--max-time", "5", "http://10.77.0.2:8080/"]);
    const answer = await run(curl.file, [...curl.args]);
    expect(JSON.parse(answer.stdout)).toEqual({ interfaces: ["eth0", "lo"], from: "10.77.0.1" });
  });

  it("unplug leaves no namespace, no veth, no port, even while a process holds the namespace; again, it does nothing", async () => {
    const bridge = await bridgeUp();
    const port = await plug({ instanceId: "held", bridge, address: "10.78.0.1/24" });
    expect(await leftovers("held", bridge)).toEqual([
      `namespace ${port.namespace}`,
      `link ${port.hostInterface}`,
      `port ${port.hostInterface}`,
      `port record ${port.hostInterface}`,
    ]);
    // A process in the namespace keeps it alive after `ip netns delete`, and with it the veth, unless deleted explicitly.
    const sleeper = netnsCommand(port.namespace, ["sleep", "30"]);
    const holder = spawn(sleeper.file, sleeper.args, { stdio: "ignore" });
    children.push(holder);
    await new Promise((resolve) => holder.once("spawn", resolve));
    await ports.unplug("held");
    expect(await leftovers("held", bridge)).toEqual([]);
    expect(holder.exitCode).toBe(null);
    await ports.unplug("held");
    await ports.unplug("never-plugged");
    expect(await leftovers("held", bridge)).toEqual([]);
  });

  it("plugging an instance twice is refused, and leaves the first plug as it was", async () => {
    const bridge = await bridgeUp();
    const first = await plug({ instanceId: "twice", bridge, address: "10.79.0.1/24" });
    const error = await failure(plug({ instanceId: "twice", bridge, address: "10.79.0.9/24" }));
    expect([error.code, error.sentence]).toEqual([
      "FROCTAL_E_CONFIG",
      `instance twice is plugged already (namespace ${first.namespace}): unplug it first`,
    ]);
    expect(await fixture.vsctl("get", "Interface", first.hostInterface, "ofport")).toBe(`${first.ofport}\n`);
    const addresses = await run("ip", ["-n", first.namespace, "-br", "-4", "address", "show", "eth0"]);
    expect(addresses.stdout).toMatch(/^eth0@if\d+\s+UP\s+10\.79\.0\.1\/24 \n$/);
  });

  it("a failure midway removes what the plug made: a missing bridge, a missing ethtool", async () => {
    const missing = fixture.bridgeName(); // never created
    const error = await failure(plug({ instanceId: "no-bridge", bridge: missing, address: "10.80.0.1/24" }));
    expect([error.code, error.sentence]).toEqual([
      "FROCTAL_E_CONFIG",
      `ovs-vsctl add-port refused: ovs-vsctl: no bridge named ${missing}`,
    ]);
    const bridge = await bridgeUp();
    expect(await leftovers("no-bridge", bridge)).toEqual([]);

    const noEthtool = openGuestPorts({ ...fixture.options, scope: "x", ethtool: "/nonexistent/ethtool" });
    const spec = { instanceId: `no-ethtool-${randomBytes(4).toString("hex")}`, bridge, address: "10.80.0.2/24" };
    try {
      const broken = await failure(noEthtool.plug(spec));
      expect(broken.sentence).toBe("/nonexistent/ethtool does not exist: install Debian's ethtool package");
      const { namespace, hostInterface } = noEthtool.names(spec.instanceId);
      expect(existsSync(`/run/netns/${namespace}`)).toBe(false);
      expect(await succeeds("ip", ["link", "show", hostInterface])).toBe(false);
    } finally {
      await noEthtool.unplug(spec.instanceId);
    }
  });

  it("a VM's tap: made persistent and up on the bridge (tx offload off), refused twice, removed by unplug; a failure midway leaves none", async () => {
    const bridge = await bridgeUp();
    tried.add("vm");
    const tap = await ports.plugTap({ instanceId: "vm", bridge, address: "10.82.0.64/24", mac: "02:00:0a:52:00:40" });
    const { hostInterface } = ports.names("vm");
    expect(tap).toEqual({
      instanceId: "vm",
      bridge,
      tap: hostInterface,
      ofport: Number(await fixture.vsctl("get", "Interface", hostInterface, "ofport")),
    });
    const details = JSON.parse((await run("ip", ["-details", "-json", "link", "show", hostInterface])).stdout) as [
      {
        flags: string[];
        linkinfo?: { info_kind?: string; info_data?: { type?: string; pi?: boolean; persist?: boolean } };
      },
    ];
    expect(details[0].linkinfo?.info_kind).toBe("tun");
    expect(details[0].linkinfo?.info_data).toMatchObject({ type: "tap" });
    expect(details[0].flags).toContain("UP");
    expect(/^tx-checksumming: (\w+)/m.exec((await run("ethtool", ["-k", hostInterface])).stdout)?.[1]).toBe("off");
    expect(await leftovers("vm", bridge)).toEqual([
      `link ${hostInterface}`,
      `port ${hostInterface}`,
      `port record ${hostInterface}`,
    ]);

    const again = await failure(ports.plugTap({ instanceId: "vm", bridge, address: "10.82.0.65/24" }));
    expect([again.code, again.sentence]).toEqual([
      "FROCTAL_E_CONFIG",
      `instance vm is plugged already (tap ${hostInterface}): unplug it first`,
    ]);
    expect(await leftovers("vm", bridge)).toHaveLength(3);
    await ports.unplug("vm");
    expect(await leftovers("vm", bridge)).toEqual([]);

    tried.add("vm-nowhere");
    const missing = fixture.bridgeName(); // never created
    const error = await failure(ports.plugTap({ instanceId: "vm-nowhere", bridge: missing, address: "10.82.0.66/24" }));
    expect([error.code, error.sentence]).toEqual([
      "FROCTAL_E_CONFIG",
      `ovs-vsctl add-port refused: ovs-vsctl: no bridge named ${missing}`,
    ]);
    expect(await leftovers("vm-nowhere", bridge)).toEqual([]);
  });

  it("a bad address is refused before anything is made", async () => {
    const bridge = await bridgeUp();
    const error = await failure(plug({ instanceId: "bad", bridge, address: "10.81.0.300/24" }));
    expect([error.code, error.sentence]).toEqual([
      "FROCTAL_E_CONFIG",
      'instance bad: address "10.81.0.300/24" is not an IPv4 address with a prefix of 1 to 32 (10.0.0.2/24)',
    ]);
    expect(await leftovers("bad", bridge)).toEqual([]);
  });
});
