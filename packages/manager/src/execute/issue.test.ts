import { FroctalError } from "@froctal/protocol";
import { drained } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { expectNoRepeats, harness, webFleet } from "../../test/harness.js";
import { defineFleet, type FleetSpec } from "../policy/fleet.js";

describe("Manager: a start's deadline in status", () => {
  it("shows when a starting instance must be ready, and nothing once it is", async () => {
    const h = harness(webFleet);
    h.manager.start();
    await h.settle();
    const starting = h.manager.status().services[0]!.instances[0]!;
    expect(starting.deadline).toEqual({ what: "start", at: h.clock.wallNow() + 60_000 });
    h.boot("web-1", { inflight: 1 });
    await h.settle();
    expect(h.manager.status().services[0]!.instances[0]!.deadline).toBeUndefined();
  });
});

describe("Manager: a drained instance and the load balancer's configuration", () => {
  it("is stopped only once the lb has committed a configuration without it", async () => {
    const fleet = defineFleet({
      name: "lbd",
      services: {
        lb: { image: "lb.js", replicas: 1, config: (f) => ({ backends: f.service("web").ready.map((i) => i.id) }) },
        web: {
          image: "web.js",
          loadMetric: "inflight",
          replicas: (s) => Math.max(1, Math.ceil(s.metric("inflight").sum / 10)),
          scaleDown: { stabilizationMs: 0 },
        },
      },
    });
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const [lbId, webId] = h.started() as [string, string];
    const lb = h.boot(lbId);
    const busy = h.boot(webId, { inflight: 15 });
    await h.settle();
    const other = h.started().at(-1)!;
    h.boot(other, { inflight: 0 });
    // The lb takes each backend set as it comes.
    const converge = async () => {
      for (let i = 0; i < 20; i++) {
        await h.settle();
        const last = lb.session!.frames.at(-1);
        if (last?.prepare) lb.answer("prepared");
        else if (last?.commit) lb.answer("committed");
        else return;
      }
    };
    await converge();
    expect(h.manager.store.instance(lbId)!.committedJson).toBe(JSON.stringify({ backends: [webId, other].sort() }));
    // Load falls: one web drains, and says drained before the lb has been told.
    busy.send({ metrics: { inflight: 1 } });
    await h.settle();
    const draining = [webId, other].find((id) => h.manager.store.instance(id)!.phase === "draining")!;
    h.agent(draining).send({ events: [drained()] });
    await h.settle();
    expect(h.stopped()).toEqual([]);
    expect(lb.session!.frames.at(-1)?.prepare).toBeDefined();
    // The lb commits the set without it: now it is stopped.
    await converge();
    expect(h.stopped()).toEqual([draining]);
    expect(h.journal.filter((e) => e.kind === "stop").map((e) => e.message)).toEqual([
      `stopping ${draining}: it finished draining`,
    ]);
  });
});

describe("Manager: drains", () => {
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
    // Status shows each drain's deadline (wall clock), and no start deadline once ready.
    const deadlines = () =>
      Object.fromEntries(h.manager.status().services[0]!.instances.map((i) => [i.id, i.deadline ?? null]));
    const drainEnds = deadlines()["web-2"]?.at;
    expect(deadlines()).toEqual({
      "web-1": null,
      "web-2": { what: "drain", at: drainEnds },
      "web-3": { what: "drain", at: drainEnds },
    });
    expect(drainEnds! - h.clock.wallNow()).toBe(10_000);
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
});

describe("Manager: drains that cannot be sent at once", () => {
  /** web-1 carries the load; web-2 idles and is the one to drain when the load falls. */
  async function twoUp() {
    const h = harness(webFleet);
    h.manager.start();
    await h.settle();
    const w1 = h.boot("web-1", { inflight: 20 });
    await h.settle();
    const w2 = h.boot("web-2", { inflight: 0 });
    await h.settle();
    return { h, w1, w2 };
  }

  it("retries a drain frame a backed-up connection refused, and stops the guest only once it drained", async () => {
    const { h, w1, w2 } = await twoUp();
    w2.session!.connected = false; // backed up: send() refuses, the session stays open
    w1.send({ metrics: { inflight: 1 } });
    await h.elapse(5_000);
    expect(h.target("web")).toBe(1);
    expect(h.phases()["web-2"]).toBe("draining");
    expect(h.stopped()).toEqual([]);
    expect(w2.session!.sent("drain")).toEqual([]);

    w2.session!.connected = true; // the connection drains its backlog: the next retry gets through
    await h.elapse(1_000);
    expect(w2.session!.sent("drain")).toEqual([
      { deadlineMs: 10_000, reason: "web has 2 active instances for a target of 1" },
    ]);
    expect(h.stopped()).toEqual([]);
    w2.send({ events: [drained()] });
    await h.settle();
    expect(h.stopped()).toEqual(["web-2"]);
    expect(h.journal.filter((e) => e.kind === "stop").map((e) => e.message)).toEqual([
      "stopping web-2: it finished draining",
    ]);
    expectNoRepeats(h);
  });

  it("a drain that can never be sent waits for its deadline; it is never skipped", async () => {
    const { h, w1, w2 } = await twoUp();
    w2.session!.connected = false;
    w1.send({ metrics: { inflight: 1 } });
    await h.elapse(5_000);
    const drainAt = h.clock.now();
    expect(h.phases()["web-2"]).toBe("draining");
    await h.elapse(9_990);
    expect(h.stopped()).toEqual([]);
    expect(h.journal.filter((e) => e.kind === "failed").map((e) => e.message)).toEqual([
      "the drain of web-2 could not be sent (FROCTAL_E_TRANSPORT: the connection of web-2 is backed up: its drain frame could not be sent); it waits for its deadline",
    ]);
    await h.elapse(10);
    expect(h.clock.now() - drainAt).toBe(10_000);
    expect(h.stopped()).toEqual(["web-2"]);
    expect(h.journal.filter((e) => e.kind === "stop").map((e) => e.message)).toEqual([
      "stopping web-2: its drain deadline passed",
    ]);
  });
});

describe("Manager: starts", () => {
  const fixed = (n: number, extra: Partial<FleetSpec["services"][string]> = {}) =>
    defineFleet({ name: "f", services: { web: { image: "web.js", replicas: n, ...extra } } });

  it("retries a start that failed with a retryable error; a terminal one fails the instance and its service, which starts nothing more", async () => {
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
    expect(h.manager.status().services[0]).toMatchObject({ failure: null, lastExit: null, nextAttemptAt: null });

    h.driver.failStart(new FroctalError("FROCTAL_E_CONFIG", "no such image"));
    h.driver.crash("web-1");
    await h.elapse(500);
    expect(h.started().at(-1)).toBe("web-2");
    await h.settle();
    expect(h.phases()).toEqual({});
    expect(h.journal.filter((e) => e.kind === "failed").map((e) => e.message)).toEqual([
      "web-1 failed: it exited unexpectedly (exit code 1)",
      "web-2 failed: the driver could not start it: FROCTAL_E_CONFIG: no such image",
      "web failed: web-2 could not be started: FROCTAL_E_CONFIG: no such image; no more instances of it will be started",
    ]);
    // Retrying cannot make the image exist: no start for as long as the manager runs, and status says why.
    await h.elapse(60_000);
    expect(h.started()).toEqual(["web-1", "web-1", "web-1", "web-2"]);
    expect(h.manager.status().services[0]).toMatchObject({
      target: 1,
      failure: "web-2 could not be started: FROCTAL_E_CONFIG: no such image",
      lastExit: {
        instance: "web-2",
        reason: "the driver could not start it: FROCTAL_E_CONFIG: no such image",
        at: 1_500,
      },
      nextAttemptAt: null,
    });
  });

  it("shows a crash-looping service's last exit and next attempt in status", async () => {
    const h = harness(fixed(1));
    h.manager.start();
    await h.settle();
    h.boot("web-1");
    await h.elapse(1_000);
    h.driver.crash("web-1");
    await h.settle();
    expect(h.manager.status().services[0]).toMatchObject({
      failure: null,
      lastExit: { instance: "web-1", reason: "it exited unexpectedly (exit code 1)", at: 1_000 },
      nextAttemptAt: 1_500,
    });
    await h.elapse(500);
    expect(h.started()).toEqual(["web-1", "web-2"]);
    expect(h.manager.status().services[0]!.nextAttemptAt).toBeNull();
    // web-2 crashes before it is ready: the crash loop goes on, and the next hold is twice as long.
    h.driver.crash("web-2", 3, "exit code 3");
    await h.settle();
    expect(h.manager.status().services[0]).toMatchObject({
      lastExit: { instance: "web-2", reason: "it exited unexpectedly (exit code 3)", at: 1_500 },
      nextAttemptAt: 2_500,
    });
    await h.elapse(990);
    expect(h.started()).toEqual(["web-1", "web-2"]);
    await h.elapse(10);
    await h.elapse(1_000);
    expect(h.started()).toEqual(["web-1", "web-2", "web-3"]);
    expect(h.manager.status().services[0]!.nextAttemptAt).toBeNull();
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
