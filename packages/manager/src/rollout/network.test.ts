import { app, drained, type FakeAgent } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
import { ScriptedNetwork } from "../../test/network.js";
import { json, prepares, routerFleet } from "../../test/routers.js";
import { defineFleet, type FleetView, type ServiceView } from "../policy/fleet.js";

const VIP = { vip: "10.77.0.100", port: 8080 };

/** web scales on its `inflight` sum (10 per replica); the network serves the ready ones at a VIP. */
const webOnVip = defineFleet({
  name: "shop",
  services: {
    web: {
      image: "web.js",
      min: 1,
      max: 4,
      loadMetric: "inflight",
      replicas: (s: ServiceView) => Math.ceil(s.metric("inflight").sum / 10),
      scaleDown: { stabilizationMs: 0 },
      drainTimeoutMs: 10_000,
    },
  },
  network: (fleet: FleetView) => ({
    services: { web: { ...VIP, backends: fleet.service("web").ready.map((i) => i.id) } },
  }),
});

/** The routers of test/routers.ts, and a route through router-1 or router-2 as router-1's mode says. */
const routersWithRoutes = defineFleet({
  ...routerFleet,
  network: (fleet: FleetView) => {
    const mode = fleet.instance("router-1")?.fact<string>("mode") ?? "base";
    return { routes: [{ prefix: "10.1.0.0/16", via: mode === "base" ? "router-1" : "router-2" }] };
  },
});

/** web-1 (inflight 15) and web-2 (inflight 5) booted, one after the other, on a manager with this network. */
async function bootWeb(network: ScriptedNetwork) {
  const h = harness(webOnVip, { network });
  h.manager.start();
  await h.settle();
  const w1 = h.boot("web-1", { inflight: 15 });
  await h.settle();
  const w2 = h.boot("web-2", { inflight: 5 });
  await h.settle();
  return { h, w1, w2 };
}

/** web-1 and web-2 ready and on the network (which answers at once until the test takes over). */
async function webRunning() {
  const network = new ScriptedNetwork();
  network.auto = true;
  const { h, w1, w2 } = await bootWeb(network);
  expect(network.running).toEqual({ services: { web: { ...VIP, backends: ["web-1", "web-2"] } } });
  network.auto = false;
  return { h, network, w1, w2, before: network.calls.length };
}

describe("the network as a participant of generations", () => {
  it("programs the backends a service has ready: the VIP from the start, each ready backend as it comes", async () => {
    const { h, network } = await webRunning();
    // The VIP with no backend at first, then each backend as it became ready: one generation each.
    expect(network.calls.filter((c) => c.step === "prepare").map((c) => c.desired)).toEqual([
      { services: { web: { ...VIP, backends: [] } } },
      { services: { web: { ...VIP, backends: ["web-1"] } } },
      { services: { web: { ...VIP, backends: ["web-1", "web-2"] } } },
    ]);
    expect(network.steps).toEqual(["prepare 1", "commit 1", "prepare 2", "commit 2", "prepare 3", "commit 3"]);
    expect(h.manager.status().rollouts.map((o) => [o.generation, o.result, o.instances])).toEqual([
      [1, "committed", ["network"]],
      [2, "committed", ["network"]],
      [3, "committed", ["network"]],
    ]);
  });

  it("sends a scale-in victim its drain only once a generation without it committed on the network", async () => {
    const { h, network, w1, w2, before } = await webRunning();
    w1.send({ metrics: { inflight: 3 } });
    w2.send({ metrics: { inflight: 2 } });
    await h.settle();
    // web-2 (least busy) drains: out of the desired network at once, but no frame while the network carries it.
    expect(h.phases()).toEqual({ "web-1": "ready", "web-2": "draining" });
    expect(network.steps.slice(before)).toEqual(["prepare 4"]);
    expect(network.calls[before]!.desired).toEqual({ services: { web: { ...VIP, backends: ["web-1"] } } });
    network.answer("prepare");
    await h.settle();
    expect(network.steps.slice(before)).toEqual(["prepare 4", "commit 4"]);
    expect(w2.session!.sent("drain")).toEqual([]);
    network.answer("commit");
    await h.settle();
    expect(w2.session!.sent("drain")).toHaveLength(1);
    expect(h.journal.filter((e) => e.kind === "drain").map((e) => e.message)).toEqual([
      "draining web-2: web has 2 active instances for a target of 1",
    ]);
    // Drained, and the network settled: stopped.
    w2.send({ events: [drained()] });
    await h.settle();
    expect(h.stopped()).toEqual(["web-2"]);
  });

  it("holds a drain until the network's first commit: until then the switch may run what a manager before this one left", async () => {
    const network = new ScriptedNetwork(); // answers nothing until told
    const { h, w1, w2 } = await bootWeb(network);
    w1.send({ metrics: { inflight: 3 } });
    w2.send({ metrics: { inflight: 2 } });
    await h.settle();
    expect(h.phases()).toEqual({ "web-1": "ready", "web-2": "draining" });
    expect(network.running).toBeUndefined();
    expect(w2.session!.sent("drain")).toEqual([]);
    // The network answers what it is asked: once a generation without web-2 is committed (here the first, which
    // still has no backend at all), web-2 is drained.
    for (let i = 0; i < 10 && w2.session!.sent("drain").length === 0; i++) {
      for (const step of ["prepare", "commit"] as const) {
        try {
          network.answer(step);
        } catch {} // nothing of that step waits
      }
      await h.settle();
    }
    expect(network.running?.services?.web?.backends).not.toContain("web-2");
    expect(w2.session!.sent("drain")).toHaveLength(1);
  });

  it("stops a victim at its drain deadline, frame unsent, when the network never lets go of it", async () => {
    const { h, network, w1, w2 } = await webRunning();
    w1.send({ metrics: { inflight: 3 } });
    w2.send({ metrics: { inflight: 2 } });
    await h.settle();
    network.answer("prepare", new Error("ovs-vswitchd is not answering"));
    await h.settle();
    await h.elapse(10_000);
    expect(w2.session!.sent("drain")).toEqual([]);
    expect(h.stopped()).toEqual(["web-2"]);
  });

  it("commits routes with the routers' tables in one generation, and aborts them together when a router nacks", async () => {
    const { h, network, r1, r2 } = await routersRunning();
    network.auto = false;
    const before = network.calls.length;
    const sent = (a: FakeAgent, kind: "abort" | "commit") => a.session!.sent(kind).length;
    const [aborts1, commits2] = [sent(r1, "abort"), sent(r2, "commit")];
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const gen = prepares(r1).at(-1)!.generation;
    expect(prepares(r2).at(-1)).toEqual({ generation: gen, config: json("fast", "router-2") });
    expect(network.calls.slice(before)).toEqual([
      { step: "prepare", generation: gen, desired: { routes: [{ prefix: "10.1.0.0/16", via: "router-2" }] } },
    ]);
    network.answer("prepare");
    r1.answer("prepared");
    r2.answer("nacked", "table full");
    await h.settle();
    expect(network.steps.slice(before)).toEqual([`prepare ${gen}`, `abort ${gen}`]);
    expect([sent(r1, "abort") - aborts1, sent(r2, "commit") - commits2]).toEqual([1, 0]);
    expect(network.running).toEqual({ routes: [{ prefix: "10.1.0.0/16", via: "router-1" }] });
    expect(h.manager.status().rollouts.at(-1)).toMatchObject({
      generation: gen,
      result: "aborted",
      instances: ["network", "router-1", "router-2"],
      reason: `router-2 refused generation ${gen}: table full`,
    });
    // After the backoff the same change is offered again, to all three; this time everyone takes it.
    await h.elapse(1_000);
    const again = prepares(r1).at(-1)!.generation;
    expect(again).toBe(gen + 1);
    network.answer("prepare");
    r1.answer("prepared");
    r2.answer("prepared");
    await h.settle();
    expect(network.steps.slice(before)).toEqual([
      `prepare ${gen}`,
      `abort ${gen}`,
      `prepare ${again}`,
      `commit ${again}`,
    ]);
    // The routers were told to commit with the network, before the network answered.
    expect(sent(r2, "commit") - commits2).toBe(1);
    network.answer("commit");
    r1.answer("committed");
    r2.answer("committed");
    await h.settle();
    expect(network.running).toEqual({ routes: [{ prefix: "10.1.0.0/16", via: "router-2" }] });
    expect(h.manager.status().rollouts.at(-1)).toMatchObject({ generation: again, result: "committed" });
  });

  it("aborts the routers' generation when the network cannot prepare it, with the network's reason", async () => {
    const { h, network, r1, r2 } = await routersRunning();
    network.auto = false;
    const aborts = () => [r1.session!.sent("abort").length, r2.session!.sent("abort").length];
    const [a1, a2] = aborts();
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const gen = prepares(r1).at(-1)!.generation;
    r1.answer("prepared");
    r2.answer("prepared");
    network.answer("prepare", new Error("ovs-vswitchd is not answering"));
    await h.settle();
    expect(aborts()).toEqual([a1! + 1, a2! + 1]);
    expect(h.manager.status().rollouts.at(-1)).toMatchObject({
      generation: gen,
      result: "aborted",
      reason: `network refused generation ${gen}: ovs-vswitchd is not answering`,
    });
  });

  it("records a commit the network refused: it runs the generation before, and is offered the change again", async () => {
    const { h, network, w1, w2, before } = await webRunning();
    w1.send({ metrics: { inflight: 3 } });
    w2.send({ metrics: { inflight: 2 } });
    await h.settle();
    network.answer("prepare");
    await h.settle();
    network.answer("commit", new Error("the bundle was refused"));
    await h.settle();
    expect(h.manager.status().rollouts.at(-1)).toMatchObject({
      generation: 4,
      result: "committed",
      results: [{ instance: "network", result: "failed", running: 3, reason: "the bundle was refused" }],
    });
    expect(w2.session!.sent("drain")).toEqual([]);
    await h.elapse(1_000);
    expect(network.steps.slice(before)).toEqual(["prepare 4", "commit 4", "prepare 5"]);
  });

  it("derives no network without a network driver: the fleet runs on its own", async () => {
    const h = harness(routersWithRoutes);
    h.manager.start();
    await h.settle();
    const r1 = h.boot("router-1");
    h.boot("router-2");
    await h.settle();
    for (let i = 0; i < 20 && prepares(r1).length === 0; i++) await h.elapse(100);
    r1.answer("prepared");
    await h.settle();
    expect(h.manager.status().rollouts).toEqual([]);
    expect(h.manager.status().rollouts.flatMap((o) => o.instances)).not.toContain("network");
    expect(r1.session!.sent("prepare")).toHaveLength(1);
  });
});

/** Two routers and the network on their first tables and routes (the network answering at once). */
async function routersRunning() {
  const network = new ScriptedNetwork();
  network.auto = true;
  const h = harness(routersWithRoutes, { network });
  h.manager.start();
  await h.settle();
  const r1 = h.boot("router-1");
  const r2 = h.boot("router-2");
  await h.settle();
  const answered = new Map<FakeAgent, { prepares: number; commits: number }>();
  const answerAll = () => {
    for (const a of [r1, r2]) {
      const seen = answered.get(a) ?? { prepares: 0, commits: 0 };
      const { length: prepares } = a.session!.sent("prepare");
      const { length: commits } = a.session!.sent("commit");
      if (prepares > seen.prepares) a.answer("prepared");
      if (commits > seen.commits) a.answer("committed");
      answered.set(a, { prepares, commits });
    }
  };
  const i1 = h.manager.store.instance("router-1")!;
  const i2 = h.manager.store.instance("router-2")!;
  for (
    let i = 0;
    i < 50 && (i1.committedJson === "" || i2.committedJson === "" || h.manager.status().rollout !== null);
    i++
  ) {
    answerAll();
    await h.elapse(100);
  }
  expect([i1.committedJson, i2.committedJson]).toEqual([json("base", "router-1"), json("base", "router-2")]);
  expect(network.running).toEqual({ routes: [{ prefix: "10.1.0.0/16", via: "router-1" }] });
  return { h, network, r1, r2 };
}
