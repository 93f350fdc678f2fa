import { FroctalError, VirtualClock } from "@froctal/primitives";
import { drained, elapse, MemoryDriver, settle } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { expectNoRepeats, harness, webFleet } from "../test/harness.js";
import { mixedFleet, playScript } from "../test/scripted-run.js";
import type { JournalEntry } from "./journal.js";
import { Manager } from "./manager.js";
import { defineFleet, type FleetSpec } from "./policy/fleet.js";

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
  /** A scripted input trace: boots, load changes, a crash, drains, config answers (one nack). */
  async function script() {
    // The fleet id is fixed, as the nonce tag is: a replay repeats its driver calls exactly.
    const h = harness(mixedFleet, { fleetId: "f1ee7f1ee7f1ee7f1ee7f1ee7f1ee7f1" });
    h.manager.start();
    await h.settle();
    await playScript(h, { disconnectCrashed: false });
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

describe("Manager: time", () => {
  it("stamps journal entries with wall time, and measures durations on the monotonic clock", async () => {
    const wallStart = Date.UTC(2026, 0, 1);
    const clock = new VirtualClock({ start: 5_000, wallStart });
    const driver = new MemoryDriver({ clock });
    const journal: JournalEntry[] = [];
    const fleet = defineFleet({
      name: "f",
      services: { web: { image: "web.js", replicas: 1, startTimeoutMs: 3_000 } },
    });
    const manager = new Manager({
      fleet,
      driver,
      clock,
      managerUrl: "ws://m/agent",
      onJournal: (e) => journal.push(e),
    });
    manager.start();
    await settle(clock);
    await elapse(clock, 3_000);
    expect(journal.map((e) => [e.kind, e.at - wallStart])).toEqual([
      ["scale", 0],
      ["start", 0],
      ["failed", 3_000],
      ["stop", 3_000],
      ["gone", 3_000],
    ]);
    manager.close();
  });
});

describe("Manager: construction", () => {
  it("checks the fleet it is given as defineFleet does, with the same error, whoever built it", () => {
    const clock = new VirtualClock();
    const driver = new MemoryDriver({ clock });
    const bare = { name: "Bad Name", services: { web: { image: "", replicas: 1 } } } as unknown as FleetSpec;
    const sentence =
      'the fleet definition is invalid: fleet name "Bad Name" must match /^[a-z][a-z0-9-]{0,62}$/; service "web": image must be a non-empty string';
    const refusal = new FroctalError("FROCTAL_E_CONFIG", sentence);
    const build = () => new Manager({ fleet: bare, driver, clock, managerUrl: "ws://m/agent" });
    // The same error as defineFleet's: class, code and message.
    expect(build).toThrow(FroctalError);
    expect(build).toThrow(refusal);
    expect(() => defineFleet(bare)).toThrow(refusal);
  });
});
