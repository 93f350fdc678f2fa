import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { drained, FakeAgent, ready } from "@froctal/testkit";
import { observable, runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
import { defineFleet } from "../policy/fleet.js";

// A full collection on demand, without starting node with --expose-gc.
setFlagsFromString("--expose-gc");
const gc = runInNewContext("gc") as () => void;

async function collect(): Promise<number> {
  // WeakRefs are cleared only after the job that last read them ends, and the runtime may hold the last
  // objects of a finished job for a turn or two of the event loop: collect across several timer turns.
  for (let i = 0; i < 10; i++) {
    gc();
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return process.memoryUsage().heapUsed;
}

describe("Manager: a gone instance lets go of everything at once", () => {
  it("scaling 0 -> N -> 0 again and again leaves no timer set and no instance reachable, without waiting for any deadline", async () => {
    const want = observable.box(0);
    // A 60 s start deadline (the default) that no step of the test waits for.
    const fleet = defineFleet({
      name: "f",
      services: { web: { image: "web.js", replicas: () => want.get(), scaleDown: { stabilizationMs: 0 } } },
    });
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const timersAtRest = h.clock.pending;
    /** The scaler looks at the policy in each tick; a driver fact about nobody makes one. */
    const setWant = async (n: number) => {
      runInAction(() => want.set(n));
      h.driver.emit({ kind: "started", instanceId: "nobody", detail: "a nudge" });
      await h.settle();
    };
    const N = 500;
    const refs: WeakRef<object>[] = [];
    let baseline = 0;

    for (let round = 0; round < 5; round++) {
      await setWant(N);
      const agents: FakeAgent[] = [];
      for (const c of h.driver.callsOf("start")) {
        const a = new FakeAgent(h.manager.ingest, c.instanceId, c.spec.env.FROCTAL_TOKEN!);
        expect(a.connect()).toMatchObject({ ok: true });
        a.send({ events: [ready()] });
        agents.push(a);
        refs.push(new WeakRef(h.manager.store.instance(c.instanceId)!));
      }
      await h.settle();
      expect(Object.values(h.phases()).filter((p) => p === "ready").length).toBe(N);

      await setWant(0);
      for (const a of agents) a.send({ events: [drained()] });
      await h.settle();
      for (const a of agents) a.disconnect("stopped");
      await h.settle();
      expect(h.manager.store.instances.size).toBe(0);
      // What the test itself keeps (driver calls, its copy of the journal) is dropped each round.
      h.driver.calls.length = 0;
      h.journal.length = 0;
      agents.length = 0;

      // Every deadline armed at launch was released as its instance became ready or went away.
      expect(h.clock.pending).toBe(timersAtRest);
      if (round === 0) baseline = await collect();
    }
    const after = await collect();
    expect(refs.filter((r) => r.deref() !== undefined).length).toBe(0);
    // 2,000 more instances came and went after the baseline; about 2 KB each stayed before the fix.
    expect(after - baseline).toBeLessThan(1_000_000);
    h.manager.close();
  });
});
