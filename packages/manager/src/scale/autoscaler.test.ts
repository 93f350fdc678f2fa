import { drained } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { expectNoRepeats, harness, webFleet } from "../../test/harness.js";
import { defineFleet, type FleetSpec, type ServiceView } from "../policy/fleet.js";

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
          fleetId: h.manager.fleetId,
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
});
