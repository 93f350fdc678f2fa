import { autorun, runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import type { InstancePhase } from "../policy/fleet.js";
import { Aggregate } from "./aggregate.js";
import { Instance } from "./instance.js";

const PHASES: readonly InstancePhase[] = ["requested", "starting", "ready", "draining", "stopping", "gone", "failed"];

/** The machine of the docblock, written out: from -> allowed next phases. */
const ALLOWED: Record<InstancePhase, readonly InstancePhase[]> = {
  requested: ["starting", "ready", "stopping", "failed"],
  starting: ["ready", "draining", "stopping", "failed"],
  ready: ["draining", "stopping", "failed"],
  draining: ["stopping", "failed"],
  stopping: ["gone", "failed"],
  failed: ["stopping", "gone"],
  gone: [],
};

/** Walks a fresh instance to `phase` along allowed moves. */
function at(phase: InstancePhase): Instance {
  const i = new Instance("web-1", "web", 1, "t", 0);
  const path: Record<InstancePhase, InstancePhase[]> = {
    requested: [],
    starting: ["starting"],
    ready: ["ready"],
    draining: ["ready", "draining"],
    stopping: ["stopping"],
    failed: ["failed"],
    gone: ["stopping", "gone"],
  };
  for (const p of path[phase]) expect(i.moveTo(p)).toBe(true);
  expect(i.phase).toBe(phase);
  return i;
}

describe("Instance", () => {
  it("starts requested, with nothing known", () => {
    const i = new Instance("web-1", "web", 1, "secret", 42);
    expect(i).toMatchObject({ phase: "requested", generation: 0, committedJson: "", drained: false, failure: "" });
    expect(i.active).toBe(true);
    expect(i.metric("load")).toBeUndefined();
    expect(i.fact("x")).toBeUndefined();
    expect(i.token).toBe("secret");
    expect(i.createdAt).toBe(42);
  });

  for (const from of PHASES) {
    it(`from ${from}: allows exactly ${ALLOWED[from].join(", ") || "nothing"} (and staying)`, () => {
      for (const to of PHASES) {
        const i = at(from);
        const ok = i.moveTo(to);
        const expected = to === from || ALLOWED[from].includes(to);
        expect({ to, ok }).toEqual({ to, ok: expected });
        expect(i.phase).toBe(expected ? to : from);
      }
    });
  }

  it("a late or repeated signal cannot move it back", () => {
    const i = at("draining");
    expect(i.moveTo("ready")).toBe(false);
    expect(i.moveTo("starting")).toBe(false);
    expect(i.phase).toBe("draining");
  });

  it("counts as active while requested, starting or ready", () => {
    expect(PHASES.filter((p) => at(p).active)).toEqual(["requested", "starting", "ready"]);
  });

  it("records a commit and keeps facts", () => {
    const i = at("ready");
    i.recordCommit(3, '{"a":1}');
    i.setFact("mode", "fast");
    expect([i.generation, i.committedJson, i.fact("mode")]).toEqual([3, '{"a":1}', "fast"]);
  });

  it("reads its latest metric from the aggregates it reports into, reactively", () => {
    const i = at("ready");
    const load = new Aggregate("load");
    const seen: (number | undefined)[] = [];
    const dispose = autorun(() => seen.push(i.metric("load")));
    const slot = i.slot(load); // the session declared the metric
    runInAction(() => {
      // What the store does in one tick: the sample, then the publish.
      i.sample(slot, 0.5);
      load.publish();
    });
    runInAction(() => {
      i.sample(slot, 0.7);
      load.publish();
    });
    expect(seen).toEqual([undefined, 0.5, 0.7]);
    dispose();
  });
});
