// The HostsDriver's logic over in-process hosts (MemoryDriver each, virtual time): placement,
// forwarding, lost hosts and their return. endpoint.test.ts runs it over real WebSockets.
import type { DriverEvent, FleetSpec, LaunchSpec } from "@froctal/manager";
import { VirtualClock } from "@froctal/primitives";
import { MemoryDriver, microtasks } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import type { HostInfo } from "./host.js";
import { HostsDriver } from "./hosts-driver.js";
import { joinLocalHost } from "./local-host.js";

const identity = { name: "shop", id: "0123456789abcdef0123456789abcdef" };
const fleet: FleetSpec = {
  name: "shop",
  services: { web: { image: "web.js", replicas: 2 }, vm: { image: "vm", replicas: 1, needs: ["kvm"] } },
};
const info = (cpus: number, features: string[] = []): HostInfo => ({
  cpus,
  memoryBytes: 1 << 30,
  features,
  drivers: ["memory"],
});
const spec = (instanceId: string, service = "web"): LaunchSpec => ({
  instanceId,
  fleet: "shop",
  fleetId: identity.id,
  service,
  env: {},
  image: "web.js",
});

function world(knownHosts: string[] = []) {
  const clock = new VirtualClock();
  const joined: string[] = [];
  const hosts = new HostsDriver({
    fleet,
    identity,
    knownHosts,
    onJoin: (id) => joined.push(id),
    clock,
    lostAfterMs: 1000,
    actionTimeoutMs: 5000,
  });
  const events: DriverEvent[] = [];
  hosts.watch((e) => events.push(e));
  return { clock, hosts, events, joined };
}

describe("HostsDriver", () => {
  it("spreads a service across hosts, forwards each action to the host that runs the instance", async () => {
    const w = world();
    const a = new MemoryDriver({ clock: w.clock });
    const b = new MemoryDriver({ clock: w.clock });
    joinLocalHost(w.hosts, "a", a, info(2));
    joinLocalHost(w.hosts, "b", b, info(2));
    await microtasks();
    await w.hosts.start(spec("web-1"));
    await w.hosts.start(spec("web-2"));
    await w.hosts.start(spec("web-3"));
    expect([...a.running.keys()]).toEqual(["web-1", "web-3"]);
    expect([...b.running.keys()]).toEqual(["web-2"]);
    expect(w.hosts.hostOf("web-2")).toBe("b");
    await w.hosts.stop("web-2", { graceMs: 10 });
    expect(b.callsOf("stop").map((c) => c.instanceId)).toEqual(["web-2"]);
    expect(a.callsOf("stop")).toEqual([]);
    expect(w.hosts.hostOf("web-2")).toBeUndefined();
    expect(w.joined).toEqual(["a", "b"]);
    expect(w.events.map((e) => [e.kind, e.instanceId])).toEqual([
      ["started", "web-1"],
      ["started", "web-2"],
      ["started", "web-3"],
      ["exited", "web-2"],
    ]);
  });

  it("places a service that needs a feature only where it is, and refuses when no host has it", async () => {
    const w = world();
    const a = new MemoryDriver({ clock: w.clock });
    joinLocalHost(w.hosts, "a", a, info(8));
    await expect(w.hosts.start(spec("vm-1", "vm"))).rejects.toMatchObject({ code: "FROCTAL_E_NO_HOST" });
    const b = new MemoryDriver({ clock: w.clock });
    joinLocalHost(w.hosts, "b", b, info(1, ["kvm"]));
    await w.hosts.start(spec("vm-1", "vm"));
    expect([...b.running.keys()]).toEqual(["vm-1"]);
    expect(a.callsOf("start")).toEqual([]);
  });

  it("keeps a silent host's instances through the grace, then reports them exited and stops them when it returns", async () => {
    const w = world();
    const a = new MemoryDriver({ clock: w.clock });
    const b = new MemoryDriver({ clock: w.clock });
    joinLocalHost(w.hosts, "a", a, info(2));
    const leaveB = joinLocalHost(w.hosts, "b", b, info(2));
    await microtasks();
    await w.hosts.start(spec("web-1"));
    await w.hosts.start(spec("web-2"));
    w.events.length = 0;
    leaveB();
    w.clock.advance(999);
    expect(w.events).toEqual([]);
    expect(w.hosts.hosts().map((h) => [h.id, h.status])).toEqual([
      ["a", "up"],
      ["b", "silent"],
    ]);
    w.clock.advance(1);
    expect(w.events).toEqual([
      {
        kind: "exited",
        instanceId: "web-2",
        requested: false,
        code: null,
        detail: "host b was lost (silent for 1000 ms)",
      },
    ]);
    // The replacement goes where a host is up.
    await w.hosts.start(spec("web-3"));
    expect([...a.running.keys()]).toEqual(["web-1", "web-3"]);
    // b comes back still running web-2: it is stopped there, not adopted.
    joinLocalHost(w.hosts, "b", b, info(2));
    await microtasks();
    expect(b.callsOf("stop").map((c) => c.instanceId)).toEqual(["web-2"]);
    expect([...b.running.keys()]).toEqual([]);
    expect(w.hosts.hostOf("web-2")).toBeUndefined();
    expect(w.events.filter((e) => e.instanceId === "web-2")).toHaveLength(1);
  });

  it("reports exited what a host that reconnects within its grace no longer runs", async () => {
    const w = world();
    const a = new MemoryDriver({ clock: w.clock, reportExited: false });
    const leave = joinLocalHost(w.hosts, "a", a, info(2));
    await microtasks();
    await w.hosts.start(spec("web-1"));
    await w.hosts.start(spec("web-2"));
    leave();
    a.running.delete("web-1");
    joinLocalHost(w.hosts, "a", a, info(2));
    await microtasks();
    expect(w.events.filter((e) => e.kind === "exited")).toEqual([
      {
        kind: "exited",
        instanceId: "web-1",
        requested: false,
        code: null,
        detail: "it was gone when host a reconnected",
      },
    ]);
    expect(w.hosts.hostOf("web-2")).toBe("a");
  });

  it("list() waits for the known hosts, then lists each one's guests of the fleet", async () => {
    const w = world(["a", "b"]);
    const a = new MemoryDriver({ clock: w.clock });
    const b = new MemoryDriver({ clock: w.clock });
    await a.start(spec("web-1"));
    await b.start(spec("web-2"));
    await b.start({ ...spec("web-9"), fleetId: "f".repeat(32) });
    joinLocalHost(w.hosts, "a", a, info(2));
    let listed: string[] | undefined;
    void w.hosts.list(identity).then((found) => {
      listed = found.map((g) => g.instanceId);
    });
    await microtasks();
    expect(listed).toBeUndefined();
    joinLocalHost(w.hosts, "b", b, info(2));
    await microtasks();
    expect(listed).toEqual(["web-1", "web-2"]);
    expect(w.hosts.hostOf("web-2")).toBe("b");
    expect(w.joined).toEqual([]);
  });

  it("list() gives up waiting for a known host after the grace, and stops its guests when it comes later", async () => {
    const w = world(["a", "late"]);
    const a = new MemoryDriver({ clock: w.clock });
    const late = new MemoryDriver({ clock: w.clock });
    await late.start(spec("web-7"));
    joinLocalHost(w.hosts, "a", a, info(2));
    let listed: string[] | undefined;
    void w.hosts.list(identity).then((found) => {
      listed = found.map((g) => g.instanceId);
    });
    await microtasks();
    w.clock.advance(1000);
    await microtasks();
    expect(listed).toEqual([]);
    joinLocalHost(w.hosts, "late", late, info(2));
    await microtasks();
    expect(late.callsOf("stop").map((c) => c.instanceId)).toEqual(["web-7"]);
  });

  it("a start without an outcome fails with FROCTAL_E_TIMEOUT; asked again, the same key is sent again", async () => {
    const w = world();
    const sent: string[] = [];
    w.hosts.join("a", info(2), {
      send: (action) => sent.push(action.key),
      inventory: async () => [],
      close: () => {},
    });
    const first = w.hosts.start(spec("web-1"));
    const again = w.hosts.start(spec("web-1"));
    w.clock.advance(5000);
    await expect(first).rejects.toMatchObject({ code: "FROCTAL_E_TIMEOUT" });
    await expect(again).rejects.toMatchObject({ code: "FROCTAL_E_TIMEOUT" });
    void w.hosts.start(spec("web-1")).catch(() => {});
    expect(sent).toEqual(["start:web-1", "start:web-1"]);
    expect(w.hosts.hostOf("web-1")).toBe("a");
  });

  it("counts a host's claim on an instance placed on another host, and passes nothing on", async () => {
    const w = world();
    const a = new MemoryDriver({ clock: w.clock });
    joinLocalHost(w.hosts, "a", a, info(2));
    const b = w.hosts.join("b", info(2), { send: () => {}, inventory: async () => [], close: () => {} });
    await microtasks();
    await w.hosts.start(spec("web-1"));
    w.events.length = 0;
    w.hosts.event(b, { kind: "exited", instanceId: "web-1", requested: false, code: 1, detail: "lies" });
    expect(w.events).toEqual([]);
    expect(w.hosts.hostOf("web-1")).toBe("a");
    expect([...w.hosts.stats.rejected]).toEqual([["FROCTAL_E_AUTH", 1]]);
  });
});
