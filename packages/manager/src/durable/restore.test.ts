import { drained, elapse, FakeAgent, MemoryState, settle } from "@froctal/testkit";
import { runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
import { Manager } from "../manager.js";
import { defineFleet } from "../policy/fleet.js";
import type { InstanceRecord } from "../ports/state.js";

/** The in-memory state, logging the order of ordinal marks and record puts. */
class LoggedState extends MemoryState {
  readonly log: string[] = [];

  override reserveOrdinals(fleet: string, upTo: number): void {
    this.log.push(`ordinals ${upTo}`);
    super.reserveOrdinals(fleet, upTo);
  }

  override putInstance(fleet: string, record: InstanceRecord): void {
    this.log.push(`put ${record.id}`);
    super.putInstance(fleet, record);
  }
}

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
    expect((await first.manager.restore()).fleetId).toBe(state.fleetIds.get("keep"));
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
    // A guest carrying this fleet's id the state has no record of: it can never connect, so it is stopped.
    const fleetId = first.manager.fleetId;
    await first.driver.start({
      instanceId: "app-99",
      fleet: "keep",
      fleetId,
      service: "app",
      image: "app.js",
      env: {},
    });
    const report = await second.restore();
    expect(report.fleetId).toBe(fleetId);
    expect(second.fleetId).toBe(fleetId);
    expect([...report.adopted].sort()).toEqual(["app-1", "app-2"]);
    expect(report.orphansStopped).toEqual(["app-99"]);
    expect(report.unproven).toEqual([]);
    second.start();
    await settle(clock);

    // No duplicate, none lost: the same two instances, and no start issued.
    expect([...second.store.instances.keys()].sort()).toEqual(["app-1", "app-2"]);
    expect(first.driver.callsOf("start").map((c) => c.instanceId)).toEqual(["app-1", "app-2", "app-99"]);
    expect(second.store.instance("app-1")!.phase).toBe("ready");
    expect(second.store.instance("app-1")!.committedJson).toBe(JSON.stringify({ self: "app-1" }));

    // The guests reconnect with the tokens they were launched with and run their committed generation: nothing to push.
    const tokenOf = (id: string) =>
      first.driver.callsOf("start").find((c) => c.instanceId === id)!.spec.env.FROCTAL_TOKEN!;
    const again = new FakeAgent(second.ingest, "app-1", tokenOf("app-1"));
    const generation = second.store.instance("app-1")!.generation;
    expect(again.connect({ runningGeneration: generation })).toMatchObject({ ok: true });
    again.send({ metrics: { up: 1 } });
    const other = new FakeAgent(second.ingest, "app-2", tokenOf("app-2"));
    expect(other.connect({ runningGeneration: second.store.instance("app-2")!.generation })).toMatchObject({
      ok: true,
    });
    other.send({ metrics: { up: 1 } });
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

  it("after a restart, neither scales in nor rolls out until the adopted guests re-reported, or the wait is over", async () => {
    const busy = defineFleet({
      name: "busy",
      services: {
        web: {
          image: "web.js",
          loadMetric: "load",
          replicas: (s) => Math.max(1, Math.ceil(s.metric("load").sum / 10)),
          scaleDown: { stabilizationMs: 0 },
        },
        lb: { image: "lb.js", replicas: 1, config: (f) => ({ backends: f.service("web").ready.length }) },
      },
    });
    const state = new MemoryState();
    const first = harness(busy, { state });
    await first.manager.restore();
    first.manager.start();
    await first.settle();
    first.boot("web-1", { load: 15 });
    first.boot("lb-2");
    await first.settle();
    first.boot("web-3", { load: 5 });
    await first.settle();
    expect(first.target("web")).toBe(2);
    first.manager.close();

    const clock = first.clock;
    const second = new Manager({
      fleet: busy,
      driver: first.driver,
      clock,
      managerUrl: "ws://m/agent",
      state,
      resyncMs: 5_000,
    });
    expect((await second.restore()).adopted.slice().sort()).toEqual(["lb-2", "web-1", "web-3"]);
    second.start();
    await settle(clock);
    // No load heard yet (the policy would say 1), and nothing new for the lb: held.
    expect(second.store.service("web").target).toBe(2);
    expect(second.status().rollout).toBeNull();
    const lbToken = first.driver.callsOf("start").find((c) => c.instanceId === "lb-2")!.spec.env.FROCTAL_TOKEN!;
    const lb = new FakeAgent(second.ingest, "lb-2", lbToken);
    expect(lb.connect({ runningGeneration: second.store.instance("lb-2")!.generation })).toMatchObject({ ok: true });
    lb.send({ metrics: { up: 1 } });
    await settle(clock);
    expect(second.store.service("web").target).toBe(2);
    expect(lb.session!.sent("prepare")).toEqual([]);
    // web-1 and web-3 never come back: after resyncMs the manager decides on what it has.
    await elapse(clock, 5_000);
    expect(second.store.service("web").target).toBe(1);
    expect(lb.session!.sent("prepare").length).toBe(1);
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
    expect(report).toMatchObject({ adopted: [], forgotten: ["app-5"], lastOrdinal: 5 });
    expect(state.load("keep").instances).toEqual([]);
    // A state kept before the mark was (records only): the forgotten record's ordinal is marked before it goes.
    expect(state.load("keep").lastOrdinal).toBe(5);
    h.manager.start();
    await h.settle();
    // New instances continue the ordinals: no id is reused.
    expect(h.started()).toEqual(["app-6", "app-7"]);
    expect(state.load("keep").lastOrdinal).toBe(7);
    h.manager.close();
  });

  it("a new instance after a restart never gets the id of one that stopped before it, and its ordinal is marked first", async () => {
    const ids = defineFleet({
      name: "ids",
      services: {
        web: {
          image: "web.js",
          loadMetric: "load",
          replicas: (s) => Math.max(1, Math.ceil(s.metric("load").sum / 10)),
          scaleDown: { stabilizationMs: 0 },
        },
      },
    });
    const state = new LoggedState();
    const first = harness(ids, { state });
    await first.manager.restore();
    first.manager.start();
    await first.settle();
    const w1 = first.boot("web-1", { load: 15 });
    await first.settle();
    const w2 = first.boot("web-2", { load: 0 });
    await first.settle();
    // Load falls: web-2 (the least loaded) drains, stops, and is gone; its record with it.
    w1.send({ metrics: { load: 5 } });
    await first.settle();
    expect(first.phases()["web-2"]).toBe("draining");
    w2.send({ events: [drained()] });
    await first.settle();
    expect(first.stopped()).toEqual(["web-2"]);
    expect(first.phases()).toEqual({ "web-1": "ready" });
    expect(state.load("ids").instances.map((r) => r.id)).toEqual(["web-1"]);
    expect(state.load("ids").lastOrdinal).toBe(2);
    expect(state.log.filter((w) => w.startsWith("ordinals"))).toEqual(["ordinals 1", "ordinals 2"]);
    first.manager.close();

    // Killed and restarted on its state: web-1 is re-adopted, and web-2 is nowhere but in the mark.
    const clock = first.clock;
    const second = new Manager({ fleet: ids, driver: first.driver, clock, managerUrl: "ws://m/agent", state });
    const report = await second.restore();
    expect(report).toMatchObject({ adopted: ["web-1"], forgotten: [], lastOrdinal: 2 });
    second.start();
    await settle(clock);
    const token = first.driver.callsOf("start").find((c) => c.instanceId === "web-1")!.spec.env.FROCTAL_TOKEN!;
    const again = new FakeAgent(second.ingest, "web-1", token);
    expect(again.connect({ runningGeneration: second.store.instance("web-1")!.generation })).toMatchObject({
      ok: true,
    });
    state.log.length = 0;
    again.send({ metrics: { load: 15 } });
    await settle(clock);
    expect(first.driver.callsOf("start").map((c) => c.instanceId)).toEqual(["web-1", "web-2", "web-3"]);
    expect([...second.store.instances.keys()]).toEqual(["web-1", "web-3"]);
    // The mark is written before the record of the instance it covers: no record is durable without it.
    expect(state.log.slice(0, 2)).toEqual(["ordinals 3", "put web-3"]);
    expect(state.load("ids").lastOrdinal).toBe(3);
    second.close();
  });

  it("continues after the ordinal of a guest carrying this fleet's id whose mark and record were both lost", async () => {
    const state = new MemoryState();
    const h = harness(fleet, { state });
    const fleetId = (await state.load("keep")).fleetId;
    const spec = { fleet: "keep", fleetId, service: "app", image: "app.js", env: {} };
    await h.driver.start({ ...spec, instanceId: "app-4" });
    // Not ids the manager makes: they say nothing of the ordinals handed out.
    await h.driver.start({ ...spec, instanceId: "app-04" });
    await h.driver.start({ ...spec, instanceId: "other-9" });
    const report = await h.manager.restore();
    expect(report).toMatchObject({ orphansStopped: ["app-4", "app-04", "other-9"], lastOrdinal: 4 });
    expect(state.load("keep").lastOrdinal).toBe(4);
    h.manager.start();
    await h.settle();
    expect(h.started()).toEqual(["app-4", "app-04", "other-9", "app-5", "app-6"]);
    h.manager.close();
  });

  it("continues after the last ordinal the state marked, even with no record left", async () => {
    const state = new MemoryState();
    state.reserveOrdinals("keep", 7);
    const h = harness(fleet, { state });
    expect(await h.manager.restore()).toMatchObject({ adopted: [], forgotten: [], lastOrdinal: 7 });
    h.manager.start();
    await h.settle();
    expect(h.started()).toEqual(["app-8", "app-9"]);
    expect(state.load("keep").lastOrdinal).toBe(9);
    h.manager.close();
  });

  it("never stops a guest of another fleet with the same name, nor one carrying no fleet id; it journals the latter", async () => {
    const state = new MemoryState();
    const h = harness(fleet, { state });
    const otherFleetId = "0123456789abcdef0123456789abcdef";
    // Another fleet named "keep" (its own state, so its own id) runs on the same driver.
    const spec = { fleet: "keep", service: "app", image: "app.js", env: {} };
    await h.driver.start({ ...spec, instanceId: "app-7", fleetId: otherFleetId });
    // An earlier froctal launched this one and marked it with the fleet's name only: it may be anyone's.
    h.driver.runUnmarked("app-8", "keep", "app");
    const report = await h.manager.restore();
    const fleetId = state.fleetIds.get("keep")!;
    expect(fleetId).toMatch(/^[0-9a-f]{32}$/);
    expect(fleetId).not.toBe(otherFleetId);
    expect(h.driver.callsOf("list").map((c) => c.fleet)).toEqual([{ name: "keep", id: fleetId }]);
    expect(report).toEqual({
      fleetId,
      adopted: [],
      forgotten: [],
      orphansStopped: [],
      unproven: ["app-8"],
      generation: 0,
      lastOrdinal: 0,
    });
    expect(h.journal.map((e) => [e.kind, e.instance, e.message])).toEqual([
      [
        "stop",
        "app-8",
        "not stopping app-8: it carries this fleet's name but no fleet id (an earlier froctal launched it), " +
          "so it may be another fleet's; stop it by hand if it is this one's",
      ],
    ]);
    h.manager.start();
    await h.settle();
    // This fleet launched its own two, under its own id; nothing was stopped.
    expect(h.driver.callsOf("stop")).toEqual([]);
    expect(h.driver.callsOf("start").map((c) => [c.instanceId, c.spec.fleetId])).toEqual([
      ["app-7", otherFleetId],
      ["app-1", fleetId],
      ["app-2", fleetId],
    ]);
    expect([...h.driver.running.keys()]).toEqual(["app-7", "app-1", "app-2"]);
    expect([...h.driver.unmarked.keys()]).toEqual(["app-8"]);
    h.manager.close();
  });

  it("with a State port, refuses to start before restore() has read the fleet's id", () => {
    const h = harness(fleet, { state: new MemoryState() });
    expect(() => h.manager.start()).toThrow(
      "FROCTAL_E_CONFIG: the id of fleet keep is kept in its state: call restore() before start()",
    );
    expect(h.driver.calls).toEqual([]);
  });

  it("takes a fleet id only without a State port: with one, the state's id is the fleet's", () => {
    const options = { fleetId: "f1ee7f1ee7f1ee7f1ee7f1ee7f1ee7f1" };
    expect(harness(fleet, options).manager.fleetId).toBe(options.fleetId);
    expect(() => harness(fleet, { ...options, state: new MemoryState() })).toThrow(
      "FROCTAL_E_CONFIG: fleet keep has a State port, which keeps its id: it cannot also be given one",
    );
  });

  it("without a State port, makes a fleet id per run: two runs never share one", async () => {
    const a = harness(fleet);
    const b = harness(fleet);
    expect(a.manager.fleetId).toMatch(/^[0-9a-f]{32}$/);
    expect(b.manager.fleetId).not.toBe(a.manager.fleetId);
    expect((await a.manager.restore()).fleetId).toBe(a.manager.fleetId);
    a.manager.start();
    await a.settle();
    expect(a.driver.callsOf("start").map((c) => c.spec.fleetId)).toEqual([a.manager.fleetId, a.manager.fleetId]);
    a.manager.close();
    b.manager.close();
  });
});
