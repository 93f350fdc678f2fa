// HostsNetwork over in-process hosts (MemoryDriver each, a recording network each, virtual time):
// each host's part of a generation, a refusal naming its host, and a host that comes back
// given the committed generation. tools/e2e/src/hosts-ovs.test.ts runs it over real hosts and bridges.
import type { FleetSpec, LaunchSpec, NetworkDriver, NetworkSpec } from "@froctal/manager";
import { FroctalError, VirtualClock } from "@froctal/primitives";
import { MemoryDriver, microtasks } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { HostsDriver } from "./hosts-driver.js";
import { HostsNetwork } from "./hosts-network.js";
import { joinLocalHost } from "./local-host.js";

const identity = { name: "shop", id: "0123456789abcdef0123456789abcdef" };
const fleet: FleetSpec = { name: "shop", services: { web: { image: "web.js", replicas: 2 } } };
const info = { cpus: 2, memoryBytes: 1 << 30, features: [], drivers: ["memory"] };
const spec = (instanceId: string): LaunchSpec => ({
  instanceId,
  fleet: "shop",
  fleetId: identity.id,
  service: "web",
  env: {},
  image: "web.js",
});
const web = (...backends: string[]): NetworkSpec => ({
  services: { web: { vip: "10.77.0.10", port: 8080, backends } },
  routes: [{ prefix: "10.9.0.0/16", via: "web-1" }],
});

/** A host's network: records every call; `refuse` makes the next prepare or commit fail. */
class Recording implements NetworkDriver {
  readonly calls: string[] = [];
  refuse: "prepare" | "commit" | undefined;
  constructor(readonly description: string) {}
  async prepare(generation: number, desired: NetworkSpec): Promise<void> {
    this.calls.push(`prepare ${generation} ${JSON.stringify(desired)}`);
    this.#maybeRefuse("prepare");
  }
  async commit(generation: number): Promise<void> {
    this.calls.push(`commit ${generation}`);
    this.#maybeRefuse("commit");
  }
  abort(generation: number): void {
    this.calls.push(`abort ${generation}`);
  }
  #maybeRefuse(step: "prepare" | "commit"): void {
    if (this.refuse !== step) return;
    this.refuse = undefined;
    throw new FroctalError("FROCTAL_E_CONFIG", `${this.description} refused the ${step}`);
  }
}

async function world() {
  const clock = new VirtualClock();
  const hosts = new HostsDriver({ fleet, identity, knownHosts: [], clock, lostAfterMs: 1000, actionTimeoutMs: 5000 });
  const net = { a: new Recording("bridge a"), b: new Recording("bridge b") };
  const drivers = { a: new MemoryDriver({ clock }), b: new MemoryDriver({ clock }), c: new MemoryDriver({ clock }) };
  const leave = {
    a: joinLocalHost(hosts, "a", drivers.a, info, net.a),
    b: joinLocalHost(hosts, "b", drivers.b, info, net.b),
    c: joinLocalHost(hosts, "c", drivers.c, info),
  };
  const network = new HostsNetwork(hosts, { localHost: "a" });
  await microtasks();
  return { clock, hosts, net, drivers, leave, network };
}

describe("HostsNetwork", () => {
  it("gives each host with a network the part of the generation placed on it, and commits it there", async () => {
    const w = await world();
    await w.hosts.start(spec("web-1")); // a
    await w.hosts.start(spec("web-2")); // b
    await w.hosts.start(spec("web-3")); // c: no network
    expect([w.hosts.hostOf("web-1"), w.hosts.hostOf("web-2"), w.hosts.hostOf("web-3")]).toEqual(["a", "b", "c"]);
    expect(w.network.description).toBe("bridge a; bridge b on host b");

    await w.network.prepare(4, web("web-1", "web-2", "web-3"));
    await w.network.commit(4);
    expect(w.net.a.calls).toEqual([
      `prepare 4 ${JSON.stringify({ services: { web: { vip: "10.77.0.10", port: 8080, backends: ["web-1"] } }, routes: [{ prefix: "10.9.0.0/16", via: "web-1" }] })}`,
      "commit 4",
    ]);
    expect(w.net.b.calls).toEqual([
      `prepare 4 ${JSON.stringify({ services: { web: { vip: "10.77.0.10", port: 8080, backends: ["web-2"] } }, routes: [] })}`,
      "commit 4",
    ]);
  });

  it("rejects a generation a host refused, naming the host; abort reaches every host asked", async () => {
    const w = await world();
    await w.hosts.start(spec("web-1"));
    w.net.b.refuse = "prepare";
    const refused = await w.network.prepare(5, web("web-1")).then(
      () => undefined,
      (error: FroctalError) => [error.code, error.sentence],
    );
    expect(refused).toEqual([
      "FROCTAL_E_CONFIG",
      "host b did not prepare network generation 5: bridge b refused the prepare",
    ]);
    w.network.abort(5);
    await microtasks();
    expect([w.net.a.calls.at(-1), w.net.b.calls.at(-1)]).toEqual(["abort 5", "abort 5"]);
    await expect(w.network.commit(5)).rejects.toThrow("network generation 5 is not prepared on the hosts");
  });

  it("gives a host that came up while a generation was being prepared that generation once it is committed", async () => {
    const w = await world();
    await w.hosts.start(spec("web-1"));
    await w.hosts.start(spec("web-2"));
    w.leave.b();
    await w.network.prepare(9, web("web-1", "web-2"));
    w.net.b.calls.length = 0;
    joinLocalHost(w.hosts, "b", w.drivers.b, info, w.net.b);
    await microtasks();
    expect(w.net.b.calls).toEqual([]); // nothing committed yet
    await w.network.commit(9);
    await microtasks();
    expect(w.net.b.calls).toEqual([
      `prepare 9 ${JSON.stringify({ services: { web: { vip: "10.77.0.10", port: 8080, backends: ["web-2"] } }, routes: [] })}`,
      "commit 9",
    ]);
    expect(w.net.a.calls.filter((c) => c.startsWith("commit"))).toEqual(["commit 9"]);
  });

  it("gives a host that comes back the last committed generation once it has reported its guests", async () => {
    const w = await world();
    await w.hosts.start(spec("web-1"));
    await w.hosts.start(spec("web-2"));
    await w.network.prepare(6, web("web-1", "web-2"));
    await w.network.commit(6);
    w.leave.b();
    w.net.b.calls.length = 0;
    joinLocalHost(w.hosts, "b", w.drivers.b, info, w.net.b);
    await microtasks();
    expect(w.net.b.calls).toEqual([
      `prepare 6 ${JSON.stringify({ services: { web: { vip: "10.77.0.10", port: 8080, backends: ["web-2"] } }, routes: [] })}`,
      "commit 6",
    ]);
  });
});
