import { VirtualClock } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import {
  app,
  device,
  drained,
  elapse,
  FakeAgent,
  MemoryDriver,
  type MemoryDriverOptions,
  MemoryState,
  ready,
  settle,
} from "@froctal/testkit";
import { runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import type { JournalEntry } from "./journal.js";
import { Manager, type ManagerOptions } from "./manager.js";
import { defineFleet, type FleetSpec, type ServiceView } from "./policy/fleet.js";

const utf8 = new TextDecoder();

function harness(
  fleet: FleetSpec,
  options: Partial<ManagerOptions> = {},
  driverOptions: Partial<MemoryDriverOptions> = {},
) {
  const clock = new VirtualClock();
  const driver = new MemoryDriver({ clock, ...driverOptions });
  const journal: JournalEntry[] = [];
  let tokens = 0;
  const manager = new Manager({
    fleet,
    driver,
    clock,
    managerUrl: "ws://manager.test/agent",
    token: () => `tok-${++tokens}`,
    onJournal: (e) => journal.push(e),
    ...options,
  });
  const agents = new Map<string, FakeAgent>();
  /** The agent of a launched instance, holding the token the driver was given. */
  const agent = (id: string): FakeAgent => {
    let a = agents.get(id);
    if (a === undefined) {
      const launch = driver.callsOf("start").find((c) => c.instanceId === id);
      if (launch === undefined) throw new Error(`${id} was never started`);
      a = new FakeAgent(manager.ingest, id, launch.spec.env.FROCTAL_TOKEN!);
      agents.set(id, a);
    }
    return a;
  };
  /** What a guest does once launched: hello, then READY with its first samples. */
  const boot = (id: string, metrics: Record<string, number> = {}): FakeAgent => {
    const a = agent(id);
    expect(a.connect()).toMatchObject({ ok: true });
    a.send({ events: [ready()], metrics });
    return a;
  };
  const phases = () => Object.fromEntries([...manager.store.instances.values()].map((i) => [i.id, i.phase]));
  const started = () => driver.callsOf("start").map((c) => c.instanceId);
  const stopped = () => driver.callsOf("stop").map((c) => c.instanceId);
  const target = (service: string) => manager.store.service(service).target;
  return {
    clock,
    driver,
    manager,
    journal,
    agent,
    boot,
    phases,
    started,
    stopped,
    target,
    settle: () => settle(clock),
    elapse: (ms: number) => elapse(clock, ms),
  };
}

type Harness = ReturnType<typeof harness>;

/** Actions are keyed: no instance is ever started twice, nor stopped twice unless a stop failed, nor drained twice. */
function expectNoRepeats(h: Harness): void {
  const unique = (xs: string[]) => expect(xs).toEqual([...new Set(xs)]);
  unique(h.started());
  unique(h.stopped());
  unique(h.journal.filter((e) => e.kind === "drain").map((e) => e.instance!));
}

/** One in-flight request is 1 unit of load; 10 units per replica. */
const webFleet = defineFleet({
  name: "shop",
  services: {
    web: {
      image: "web.js",
      args: ["--port", "0"],
      env: { MODE: "test" },
      loadMetric: "inflight",
      min: 1,
      max: 5,
      replicas: (s: ServiceView) => {
        const load = s.metric("inflight").sum;
        return { replicas: Math.ceil(load / 10), why: `${load} in flight` };
      },
      scaleDown: { stabilizationMs: 5_000 },
      drainTimeoutMs: 10_000,
      stopGraceMs: 2_000,
    },
  },
});

describe("Manager: scaling a service on a metric", () => {
  it("starts the minimum, scales out when load rises, scales in by draining the least loaded", async () => {
    const h = harness(webFleet, {}, { holdStops: true });
    h.manager.start();
    await h.settle();

    // The floor: one instance, launched with the manager's address, its id and a fresh token.
    expect(h.target("web")).toBe(1);
    expect(h.driver.callsOf("start")).toEqual([
      {
        at: 0,
        op: "start",
        instanceId: "web-1",
        spec: {
          instanceId: "web-1",
          fleet: "shop",
          service: "web",
          image: "web.js",
          args: ["--port", "0"],
          env: {
            MODE: "test",
            FROCTAL_MANAGER_URL: "ws://manager.test/agent",
            FROCTAL_INSTANCE_ID: "web-1",
            FROCTAL_TOKEN: "tok-1",
          },
        },
      },
    ]);
    expect(h.phases()).toEqual({ "web-1": "starting" });

    const w1 = h.boot("web-1", { inflight: 5 });
    await h.settle();
    expect(h.phases()).toEqual({ "web-1": "ready" });

    // Load rises: 25 in flight -> 3 replicas, at once (no up-stabilization).
    await h.elapse(1_000);
    w1.send({ metrics: { inflight: 25 } });
    await h.settle();
    expect(h.target("web")).toBe(3);
    expect(h.started()).toEqual(["web-1", "web-2", "web-3"]);
    expect(h.driver.callsOf("start").map((c) => c.at)).toEqual([0, 1_000, 1_000]);
    expect(h.driver.callsOf("start")[2]!.spec.env.FROCTAL_TOKEN).toBe("tok-3");
    const w2 = h.boot("web-2", { inflight: 0 });
    const w3 = h.boot("web-3", { inflight: 0 });
    await h.settle();
    expect(h.phases()).toEqual({ "web-1": "ready", "web-2": "ready", "web-3": "ready" });
    expect(h.journal.filter((e) => e.kind === "scale").map((e) => e.message)).toEqual([
      "web: 0 -> 1 replicas (0 in flight)",
      "web: 1 -> 3 replicas (25 in flight)",
    ]);

    // Load falls to 15 -> 2 replicas, but only once the 5 s down window agrees.
    w1.send({ metrics: { inflight: 10 } });
    w2.send({ metrics: { inflight: 3 } });
    w3.send({ metrics: { inflight: 2 } });
    await h.elapse(4_990);
    expect(h.target("web")).toBe(3);
    expect(w3.session!.sent("drain")).toEqual([]);
    await h.elapse(10);
    expect(h.target("web")).toBe(2);

    // The least loaded ready instance drains; nobody else hears of it.
    expect(w3.session!.sent("drain")).toEqual([
      { deadlineMs: 10_000, reason: "web has 3 active instances for a target of 2" },
    ]);
    expect(w1.session!.sent("drain")).toEqual([]);
    expect(w2.session!.sent("drain")).toEqual([]);
    expect(h.phases()["web-3"]).toBe("draining");
    expect(h.stopped()).toEqual([]);

    // Nothing changes while it drains, however long the tick chain runs.
    await h.elapse(1_000);
    expect(h.stopped()).toEqual([]);
    expect(w3.session!.sent("drain")).toHaveLength(1);

    // DRAINED -> stopped through the driver, with the service's grace.
    w3.send({ events: [drained()] });
    await h.settle();
    expect(h.driver.callsOf("stop")).toMatchObject([{ instanceId: "web-3", options: { graceMs: 2_000 } }]);
    expect(h.phases()["web-3"]).toBe("stopping");

    // The driver reports the exit: the instance is gone from the store.
    h.driver.completeStop("web-3");
    await h.settle();
    expect(h.phases()).toEqual({ "web-1": "ready", "web-2": "ready" });
    expect(h.manager.store.service("web").metric("inflight").sum).toBe(13);
    expect(h.journal.map((e) => e.kind)).toEqual([
      "scale",
      "start",
      "scale",
      "start",
      "start",
      "scale",
      "drain",
      "stop",
      "gone",
    ]);

    // Quiet from here on: more time, no more actions.
    await h.elapse(60_000);
    expect(h.started()).toHaveLength(3);
    expect(h.stopped()).toEqual(["web-3"]);
    expectNoRepeats(h);
    h.manager.close();
  });

  it("stops a draining instance when its drain deadline passes without DRAINED", async () => {
    const h = harness(webFleet);
    h.manager.start();
    await h.settle();
    const w1 = h.boot("web-1", { inflight: 30 });
    await h.settle();
    for (const id of ["web-2", "web-3"]) h.boot(id, { inflight: 0 });
    await h.settle();
    w1.send({ metrics: { inflight: 1 } });
    await h.elapse(5_000);
    expect(h.target("web")).toBe(1);
    expect(h.phases()).toMatchObject({ "web-2": "draining", "web-3": "draining" });
    await h.elapse(9_990);
    expect(h.stopped()).toEqual([]);
    await h.elapse(10);
    expect(h.stopped().sort()).toEqual(["web-2", "web-3"]);
    await h.settle();
    expect(h.phases()).toEqual({ "web-1": "ready" });
    expect(h.journal.filter((e) => e.kind === "stop").map((e) => e.message)).toEqual([
      "stopping web-2: its drain deadline passed",
      "stopping web-3: its drain deadline passed",
    ]);
    expectNoRepeats(h);
  });

  it("drains an instance with no session at once (nothing to wait for)", async () => {
    const h = harness(webFleet);
    h.manager.start();
    await h.settle();
    const w1 = h.boot("web-1", { inflight: 20 });
    await h.settle();
    const w2 = h.boot("web-2", { inflight: 0 });
    await h.settle();
    w2.disconnect();
    w1.send({ metrics: { inflight: 1 } });
    await h.elapse(5_000);
    expect(h.stopped()).toEqual(["web-2"]);
    expect(h.phases()).toEqual({ "web-1": "ready" });
  });

  it("a policy reading an instance's own metric re-runs when that metric changes", async () => {
    const fleet = defineFleet({
      name: "shop",
      services: {
        web: {
          image: "web.js",
          // One more replica than the number of hot instances.
          replicas: (s: ServiceView) => 1 + s.ready.filter((i) => (i.metric("cpu") ?? 0) > 0.9).length,
          scaleDown: { stabilizationMs: 0 },
        },
      },
    });
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const w1 = h.boot("web-1");
    await h.settle();
    w1.send({ metrics: { cpu: 0.95 } });
    await h.settle();
    expect(h.target("web")).toBe(2);
    w1.send({ metrics: { cpu: 0.2 } });
    await h.settle();
    expect(h.target("web")).toBe(1);
  });
});

describe("Manager: failures", () => {
  const fixed = (n: number, extra: Partial<FleetSpec["services"][string]> = {}) =>
    defineFleet({ name: "f", services: { web: { image: "web.js", replicas: n, ...extra } } });

  it("replaces a crashed instance after a backoff that doubles while the crashes go on, and resets once one is ready", async () => {
    const h = harness(fixed(2));
    h.manager.start();
    await h.settle();
    const w1 = h.boot("web-1");
    h.boot("web-2");
    await h.settle();

    const crashAndWait = async (id: string) => {
      const at = h.clock.now();
      h.driver.crash(id);
      await h.settle();
      expect(h.phases()[id]).toBeUndefined(); // failed, stopped (a no-op for the driver) and forgotten
      const before = h.started().length;
      // The healthy instance keeps reporting all along: that says nothing about restarts.
      for (let i = 0; i < 400 && h.started().length === before; i++) {
        w1.send({ metrics: { cpu: i } });
        await h.elapse(100);
      }
      return h.driver.callsOf("start").at(-1)!.at - at;
    };

    expect(await crashAndWait("web-2")).toBe(500);
    expect(await crashAndWait("web-3")).toBe(1_000);
    expect(await crashAndWait("web-4")).toBe(2_000);
    h.boot("web-5");
    await h.settle();
    expect(await crashAndWait("web-5")).toBe(500);
    expect(h.journal.filter((e) => e.kind === "failed").map((e) => e.message)[0]).toBe(
      "web-2 failed: it exited unexpectedly (exit code 1)",
    );
    expectNoRepeats(h);
  });

  it("caps the restart backoff at 30 s", async () => {
    const h = harness(fixed(1));
    h.manager.start();
    await h.settle();
    const gaps: number[] = [];
    for (let n = 1; n <= 9; n++) {
      const at = h.clock.now();
      h.driver.crash(`web-${n}`);
      while (h.started().length === n) await h.elapse(100);
      gaps.push(h.driver.callsOf("start").at(-1)!.at - at);
    }
    expect(gaps).toEqual([500, 1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000, 30_000]);
  });

  it("holds restarts until the latest failure's backoff has passed, not the first one's", async () => {
    const h = harness(fixed(2));
    h.manager.start();
    await h.settle();
    h.boot("web-1");
    h.boot("web-2");
    await h.settle();
    h.driver.crash("web-1");
    await h.elapse(100);
    h.driver.crash("web-2");
    await h.elapse(990);
    expect(h.started()).toEqual(["web-1", "web-2"]);
    await h.elapse(10);
    expect(h.started()).toEqual(["web-1", "web-2", "web-3", "web-4"]);
    expect(h.driver.callsOf("start").at(-1)!.at).toBe(1_100);
  });

  it("retries a start that failed with a retryable error; a terminal one fails the instance and backs off", async () => {
    const h = harness(fixed(1));
    h.driver.failStart(new FroctalError("FROCTAL_E_TRANSPORT", "libvirtd is restarting"), { times: 2 });
    h.manager.start();
    await h.elapse(1_000);
    expect(h.driver.callsOf("start").map((c) => [c.instanceId, c.at])).toEqual([
      ["web-1", 0],
      ["web-1", 100],
      ["web-1", 300],
    ]);
    expect(h.phases()).toEqual({ "web-1": "starting" });

    h.driver.failStart(new FroctalError("FROCTAL_E_CONFIG", "no such image"));
    h.driver.crash("web-1");
    await h.elapse(500);
    expect(h.started().at(-1)).toBe("web-2");
    await h.settle();
    expect(h.phases()).toEqual({});
    expect(h.journal.filter((e) => e.kind === "failed").map((e) => e.message)).toEqual([
      "web-1 failed: it exited unexpectedly (exit code 1)",
      "web-2 failed: the driver could not start it: FROCTAL_E_CONFIG: no such image",
    ]);
    await h.elapse(1_000);
    expect(h.started()).toEqual(["web-1", "web-1", "web-1", "web-2", "web-3"]);
  });

  it("fails an instance that does not become ready in time, stops it and starts another", async () => {
    const h = harness(fixed(1, { startTimeoutMs: 3_000 }));
    h.manager.start();
    await h.elapse(2_990);
    expect(h.stopped()).toEqual([]);
    await h.elapse(10);
    expect(h.stopped()).toEqual(["web-1"]);
    expect(h.journal.find((e) => e.kind === "failed")?.message).toBe("web-1 failed: it did not become ready in time");
    await h.elapse(500);
    expect(h.started()).toEqual(["web-1", "web-2"]);
  });
});

describe("Manager: the edge", () => {
  const fleet = defineFleet({ name: "f", services: { web: { image: "web.js", replicas: 1 } } });

  it("refuses a wrong token and an unknown instance; the instance stays unconnected", async () => {
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const intruder = new FakeAgent(h.manager.ingest, "web-1", "tok-2");
    expect(intruder.connect()).toEqual({
      ok: false,
      code: "FROCTAL_E_AUTH",
      reason: "the token presented for web-1 is not the one it was launched with",
    });
    expect(new FakeAgent(h.manager.ingest, "web-9", "tok-1").connect()).toMatchObject({
      ok: false,
      code: "FROCTAL_E_AUTH",
    });
    await h.settle();
    expect(h.manager.store.instance("web-1")!.session).toBeUndefined();
    expect(h.manager.status().services[0]!.instances[0]).toMatchObject({ id: "web-1", connected: false });
    expect(h.manager.stats.edge).toMatchObject({ admitted: 0, refused: 2 });
    expect(h.agent("web-1").connect()).toMatchObject({ ok: true, ackedSeq: 0 });
  });

  it("applies events re-sent after a reconnect with the same stream id once", async () => {
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const a = h.boot("web-1");
    a.send({ events: [device("nic0", "added"), app("mode", "fast")] });
    a.send({ events: [device("nic0", "removed"), app("mode", "slow")] });
    await h.settle();
    const i = h.manager.store.instance("web-1")!;
    expect([i.devices.size, i.fact("mode")]).toEqual([0, "slow"]);

    a.disconnect("network blip");
    expect(a.connect()).toEqual({ ok: true, ackedSeq: 5 });
    a.resend(2); // the agent did not see the acks: everything after READY again, and a new event
    a.send({ events: [app("seen", true)] });
    await h.settle();
    expect([i.devices.size, i.fact("mode"), i.fact("seen"), i.phase]).toEqual([0, "slow", true, "ready"]);
    expect(h.manager.stats.edge).toMatchObject({ duplicates: 4, events: 6 });

    // A new stream (the agent restarted) starts from 0: its events are new.
    a.streamId = "restarted";
    expect(a.connect()).toEqual({ ok: true, ackedSeq: 0 });
    a.resend(4);
    await h.settle();
    expect([i.devices.size, i.fact("mode")]).toEqual([0, "slow"]);
    expect(h.manager.stats.edge.events).toBe(9);
  });
});

describe("Manager: configuration rollout", () => {
  const routerFleet = defineFleet({
    name: "net",
    services: {
      router: {
        image: "router.js",
        replicas: 2,
        // Every router runs the mode router-1 announces; a change reaches both together or neither.
        config: (fleet, instance) => ({
          mode: fleet.instance("router-1")?.fact<string>("mode") ?? "base",
          self: instance.id,
        }),
      },
    },
  });

  const prepares = (a: FakeAgent) =>
    a
      .session!.sent("prepare")
      .map((p) => ({ generation: Number(p.generation), config: utf8.decode(p.config as Uint8Array) }));
  const json = (mode: string, self: string) => JSON.stringify({ mode, self });

  /** Two routers up, connected, and on their first configuration. */
  async function running() {
    const h = harness(routerFleet);
    h.manager.start();
    await h.settle();
    const r1 = h.boot("router-1");
    const r2 = h.boot("router-2");
    await h.settle();
    // Until both were connected a generation could not reach them; the retry comes within a second.
    for (let i = 0; i < 20 && prepares(r2).length === 0; i++) await h.elapse(100);
    expect(prepares(r1)).toHaveLength(1);
    await answerAll(h, [r1, r2], "prepared");
    await answerAll(h, [r1, r2], "committed");
    const i1 = h.manager.store.instance("router-1")!;
    const i2 = h.manager.store.instance("router-2")!;
    expect([i1.committedJson, i2.committedJson]).toEqual([json("base", "router-1"), json("base", "router-2")]);
    return { h, r1, r2, i1, i2 };
  }

  async function answerAll(h: Harness, agents: FakeAgent[], status: "prepared" | "committed") {
    for (const a of agents) a.answer(status);
    await h.settle();
  }

  it("commits only once every participant prepared", async () => {
    const { h, r1, r2, i1 } = await running();
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    expect(prepares(r1).at(-1)).toEqual({ generation: g, config: json("fast", "router-1") });
    expect(prepares(r2).at(-1)).toEqual({ generation: g, config: json("fast", "router-2") });

    r1.answer("prepared");
    await h.elapse(1_000);
    expect(r1.session!.sent("commit").filter((c) => c.generation === g)).toEqual([]);
    expect(i1.committedJson).toBe(json("base", "router-1"));

    r2.answer("prepared");
    await h.settle();
    expect(r1.session!.sent("commit").at(-1)).toEqual({ generation: g, nonce: `g${g}` });
    expect(r2.session!.sent("commit").at(-1)).toEqual({ generation: g, nonce: `g${g}` });
    await answerAll(h, [r1, r2], "committed");
    expect(i1.committedJson).toBe(json("fast", "router-1"));
    expect(h.manager.status().generation).toBe(g);
    expect(h.journal.at(-1)).toMatchObject({
      kind: "rollout",
      message: `generation ${g} committed on router-1, router-2`,
    });
    expect(h.manager.status().rollouts.at(-1)).toMatchObject({ generation: g, result: "committed" });
  });

  it("aborts everywhere on a nack; each instance keeps its previous configuration; retries after a backoff", async () => {
    const { h, r1, r2, i1, i2 } = await running();
    const before = [i1.committedJson, i2.committedJson];
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    r1.answer("prepared");
    r2.answer("nacked", "fast mode needs a newer NIC");
    await h.settle();
    const reason = `router-2 refused generation ${g}: fast mode needs a newer NIC`;
    expect(r1.session!.sent("abort")).toEqual([{ generation: g, nonce: `g${g}`, reason }]);
    expect(r2.session!.sent("abort")).toEqual([{ generation: g, nonce: `g${g}`, reason }]);
    expect(r1.session!.sent("commit").filter((c) => c.generation === g)).toEqual([]);
    expect([i1.committedJson, i2.committedJson]).toEqual(before);
    expect(h.journal.at(-1)!.message).toBe(`generation ${g} aborted on router-1, router-2: ${reason}`);

    // The same change is offered again, but not before a second has passed.
    await h.elapse(990);
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    await h.elapse(10);
    expect(prepares(r1).at(-1)).toEqual({ generation: g + 1, config: json("fast", "router-1") });
  });

  it("coalesces changes that arrive mid-generation into the next generation", async () => {
    const { h, r1, r2, i1, i2 } = await running();
    r1.send({ events: [app("mode", "a")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    expect(prepares(r1).at(-1)!.config).toBe(json("a", "router-1"));

    // Two more changes while generation g prepares, one more while it commits: none interleaves with it.
    r1.send({ events: [app("mode", "b")] });
    await h.settle();
    r1.send({ events: [app("mode", "c")] });
    await h.settle();
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    expect(prepares(r2).at(-1)!.generation).toBe(g);
    await answerAll(h, [r1, r2], "prepared");
    r1.send({ events: [app("mode", "d")] });
    await h.settle();
    expect(prepares(r1).at(-1)!.generation).toBe(g);

    r1.answer("committed");
    await h.settle();
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    r2.answer("committed");
    await h.settle();
    // Generation g is done: the latest desired configuration goes out as g + 1, at once.
    expect([i1.committedJson, i2.committedJson]).toEqual([json("a", "router-1"), json("a", "router-2")]);
    expect(prepares(r1).at(-1)).toEqual({ generation: g + 1, config: json("d", "router-1") });
    expect(prepares(r2).at(-1)).toEqual({ generation: g + 1, config: json("d", "router-2") });
    expect(prepares(r1).filter((p) => p.generation > g)).toHaveLength(1);
    await answerAll(h, [r1, r2], "prepared");
    await answerAll(h, [r1, r2], "committed");
    expect([i1.committedJson, i2.committedJson]).toEqual([json("d", "router-1"), json("d", "router-2")]);
    await h.elapse(10_000);
    expect(prepares(r1).filter((p) => p.generation > g + 1)).toEqual([]);
  });

  it("a participant that disconnects before it prepared aborts the generation", async () => {
    const { h, r1, r2, i2 } = await running();
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    r1.answer("prepared");
    r2.disconnect("link down");
    await h.settle();
    expect(r1.session!.sent("abort")).toMatchObject([
      { generation: g, reason: "router-2 disconnected before it prepared" },
    ]);
    expect(i2.committedJson).toBe(json("base", "router-2"));
  });
});

describe("Manager: shutdown", () => {
  it("drains and stops every instance, then resolves", async () => {
    const h = harness(webFleet);
    h.manager.start();
    await h.settle();
    const w1 = h.boot("web-1", { inflight: 15 });
    await h.settle();
    const w2 = h.boot("web-2", { inflight: 0 });
    await h.settle();
    let done = false;
    const shutdown = h.manager.shutdown(30_000).then(() => {
      done = true;
    });
    await h.settle();
    expect(w1.session!.sent("drain")).toHaveLength(1);
    expect(w2.session!.sent("drain")).toHaveLength(1);
    w1.send({ events: [drained()] });
    w2.send({ events: [drained()] });
    await h.elapse(200);
    await shutdown;
    expect(done).toBe(true);
    expect(h.manager.store.instances.size).toBe(0);
    expect(h.driver.running.size).toBe(0);
    expect(h.started()).toEqual(["web-1", "web-2"]);
    h.manager.close();
  });
});

describe("Manager: determinism", () => {
  const fleet = defineFleet({
    name: "mixed",
    services: {
      web: { ...webFleet.services.web, drainTimeoutMs: 3_000 },
      router: {
        image: "router.js",
        replicas: (_s: ServiceView, f) => Math.max(1, f.service("web").ready.length - 1),
        config: (f, i) => ({ peers: f.service("web").ready.map((w) => w.id), self: i.id }),
      },
    },
  });

  /** A scripted input trace: boots, load changes, a crash, drains, config answers (one nack). */
  async function script() {
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const answered = new Map<string, number>();
    /** Every connected guest answers what it was sent since last time; router-6 refuses its first prepare. */
    const answer = async () => {
      for (const id of [...h.manager.store.instances.keys()]) {
        const a = h.agent(id);
        const frames = a.session?.frames ?? [];
        for (const f of frames.slice(answered.get(id) ?? 0)) {
          if (f.prepare) a.answer(id === "router-6" && !answered.has("nacked") ? "nacked" : "prepared");
          if (f.prepare && id === "router-6") answered.set("nacked", 1);
          if (f.commit) a.answer("committed");
          if (f.drain) a.send({ events: [drained()] });
        }
        answered.set(id, frames.length);
      }
      await h.settle();
    };
    const bootNew = async (metrics: Record<string, number>) => {
      for (const id of h.started())
        if (h.agent(id).session === undefined && h.manager.store.instance(id)) h.boot(id, metrics);
      await h.settle();
    };
    await bootNew({ inflight: 35 });
    for (let t = 0; t < 20; t++) {
      await bootNew({ inflight: 1 });
      await answer();
      await h.elapse(100);
    }
    h.driver.crash("web-3");
    for (let t = 0; t < 30; t++) {
      await bootNew({ inflight: 1 });
      await answer();
      await h.elapse(100);
    }
    h.agent("web-1").send({ metrics: { inflight: 4 } });
    for (let t = 0; t < 100; t++) {
      await answer();
      await h.elapse(100);
    }
    const frames = [...h.manager.store.instances.keys()].map((id) => h.agent(id).session?.frames ?? []);
    h.manager.close();
    expectNoRepeats(h);
    return { calls: h.driver.calls, journal: h.journal, frames, status: h.manager.status() };
  }

  it("the same input trace on a virtual clock gives the same driver calls, journal and frames", async () => {
    const first = await script();
    const second = await script();
    // The trace exercises every kind of decision, so the comparison means something.
    expect(new Set(first.journal.map((e) => e.kind))).toEqual(
      new Set(["scale", "start", "drain", "stop", "gone", "failed", "rollout"]),
    );
    expect(first.calls.map((c) => c.op)).toContain("stop");
    expect(second).toEqual(first);
  });
});

describe("Manager: restart and re-adoption through the State port", () => {
  const fleet = defineFleet({
    name: "keep",
    services: {
      app: {
        image: "app.js",
        replicas: 2,
        config: (_fleet, instance) => ({ self: instance.id }),
      },
    },
  });

  it("a restarted manager re-adopts running instances with their tokens and configs, and never reuses a generation", async () => {
    const state = new MemoryState();
    const first = harness(fleet, { state });
    first.manager.start();
    await first.settle();
    const a1 = first.boot("app-1");
    const a2 = first.boot("app-2");
    await first.settle();
    // Answer whatever each guest was last sent, until both run their configuration.
    const converged = () => ["app-1", "app-2"].every((id) => first.manager.store.instance(id)!.committedJson !== "");
    for (let i = 0; i < 50 && !converged(); i++) {
      for (const a of [a1, a2]) {
        const last = a.session!.frames.at(-1);
        if (last?.prepare) a.answer("prepared");
        else if (last?.commit) a.answer("committed");
      }
      await first.elapse(100);
    }
    const before = first.manager.status();
    expect(before.services[0]!.instances.map((i) => [i.id, i.phase, i.generation > 0])).toEqual([
      ["app-1", "ready", true],
      ["app-2", "ready", true],
    ]);
    const lastGeneration = before.generation;
    expect(state.load("keep").reservedGeneration).toBeGreaterThanOrEqual(lastGeneration);

    // The manager dies (no shutdown): its guests keep running in the driver.
    first.manager.close();
    const clock = first.clock;
    const second = new Manager({
      fleet,
      driver: first.driver,
      clock,
      managerUrl: "ws://manager.test/agent",
      state,
    });
    // A guest of this fleet the state has no record of: it can never connect, so it is stopped.
    await first.driver.start({ instanceId: "app-99", fleet: "keep", service: "app", image: "app.js", env: {} });
    const report = await second.restore();
    expect([...report.adopted].sort()).toEqual(["app-1", "app-2"]);
    expect(report.orphansStopped).toEqual(["app-99"]);
    second.start();
    await settle(clock);

    // No duplicate, none lost: the same two instances, and no start issued.
    expect([...second.store.instances.keys()].sort()).toEqual(["app-1", "app-2"]);
    expect(first.driver.callsOf("start").map((c) => c.instanceId)).toEqual(["app-1", "app-2", "app-99"]);
    expect(second.store.instance("app-1")!.phase).toBe("ready");
    expect(second.store.instance("app-1")!.committedJson).toBe(JSON.stringify({ self: "app-1" }));

    // The guests reconnect with the tokens they were launched with and run their committed generation: nothing to push.
    const token = first.driver.callsOf("start").find((c) => c.instanceId === "app-1")!.spec.env.FROCTAL_TOKEN!;
    const again = new FakeAgent(second.ingest, "app-1", token);
    const generation = second.store.instance("app-1")!.generation;
    expect(again.connect({ runningGeneration: generation })).toMatchObject({ ok: true });
    await settle(clock);
    expect(again.session!.sent("prepare")).toEqual([]);

    // A new instance's configuration gets a generation above every one handed out before the restart.
    runInAction(() => {
      second.store.instance("app-1")!.recordCommit(generation, "");
    });
    await settle(clock);
    const pushed = again.session!.sent("prepare").map((p) => Number(p.generation));
    expect(pushed.length).toBeGreaterThan(0);
    expect(Math.min(...pushed)).toBeGreaterThan(lastGeneration);
    second.close();
  });

  it("records of instances that are gone are forgotten at restore", async () => {
    const state = new MemoryState();
    state.putInstance("keep", {
      id: "app-5",
      service: "app",
      ordinal: 5,
      token: "t",
      phase: "ready",
      generation: 0,
      configJson: "",
    });
    const h = harness(fleet, { state });
    const report = await h.manager.restore();
    expect(report).toMatchObject({ adopted: [], forgotten: ["app-5"] });
    expect(state.load("keep").instances).toEqual([]);
    h.manager.start();
    await h.settle();
    // New instances continue the ordinals: no id is reused.
    expect(h.started()).toEqual(["app-1", "app-2"]);
    h.manager.close();
  });
});
