import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InstancePhase } from "../policy/fleet.js";
import { type Action, actionKey } from "./action.js";
import { type PlannedInstance, plan, planInput, victimOrder } from "./plan.js";

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function inst(id: string, phase: InstancePhase, fields: Partial<PlannedInstance> = {}): PlannedInstance {
  const ordinal = Number(id.replace(/\D/g, "")) || 0;
  return { id, phase, ordinal, load: undefined, drained: false, drainExpired: false, ...fields };
}

function planFor(target: number, instances: PlannedInstance[], inFlight: Iterable<string> = []): Action[] {
  return plan(planInput("web", target, instances, new Set(inFlight)));
}

const brief = (actions: Action[]) => actions.map((a) => `${a.kind} ${a.instanceId}`);
const stopKey = (id: string) => actionKey({ kind: "stop", service: "web", instanceId: id, reason: "" });
const drainKey = (id: string) => actionKey({ kind: "drain", service: "web", instanceId: id, reason: "" });

describe("plan", () => {
  it("starts the deficit, with distinct keys", () => {
    const actions = planFor(3, [inst("w1", "ready")]);
    expect(brief(actions)).toEqual(["start web-2", "start web-3"]);
    expect(new Set(actions.map(actionKey)).size).toBe(2);
    expect(actions.every((a) => a.reason.includes("1 active instances for a target of 3"))).toBe(true);
  });

  it("plans no start while starts are held, and still stops and drains", () => {
    const input = { ...planInput("web", 2, [inst("w1", "failed"), inst("w2", "ready")], new Set<string>()) };
    expect(brief(plan({ ...input, holdStarts: true }))).toEqual(["stop w1"]);
    expect(brief(plan({ ...input, holdStarts: false }))).toEqual(["stop w1", "start web-3"]);
    expect(brief(plan({ ...input, target: 0, holdStarts: true }))).toEqual(["stop w1", "drain w2"]);
  });

  it("names each start by the ordinal it is given, so the key planned is the key put in flight", () => {
    const input = planInput("web", 2, [], new Set<string>(), 7);
    expect(plan(input).map(actionKey)).toEqual(["start:web-7", "start:web-8"]);
    expect(plan({ ...input, inFlight: new Set(["start:web-7"]) }).map(actionKey)).toEqual(["start:web-8"]);
  });

  it("counts requested, starting and ready as active, and nothing else", () => {
    const instances = [
      inst("w1", "requested"),
      inst("w2", "starting"),
      inst("w3", "ready"),
      inst("w4", "draining"),
      inst("w5", "gone"),
    ];
    expect(planFor(3, instances)).toEqual([]);
    expect(brief(planFor(4, instances))).toEqual(["start web-6"]);
  });

  it("scales in by stopping instances that are not ready first, newest first", () => {
    const instances = [
      inst("w1", "ready", { load: 5 }),
      inst("w2", "ready", { load: 1 }),
      inst("w3", "starting"),
      inst("w4", "requested"),
    ];
    expect(brief(planFor(2, instances))).toEqual(["stop w4", "stop w3"]);
    expect(brief(planFor(1, instances))).toEqual(["stop w4", "stop w3", "drain w2"]);
    expect(brief(planFor(0, instances))).toEqual(["stop w4", "stop w3", "drain w2", "drain w1"]);
  });

  it("drains ready instances least loaded first, then newest first; unknown load counts as 0", () => {
    const instances = [
      inst("w1", "ready", { load: 0.2 }),
      inst("w2", "ready", { load: 0.2 }),
      inst("w3", "ready", { load: 0.9 }),
      inst("w4", "ready", { load: 0.1 }),
      inst("w5", "ready"),
    ];
    expect(brief(planFor(2, instances))).toEqual(["drain w5", "drain w4", "drain w2"]);
    expect([...instances].sort(victimOrder).map((i) => i.id)).toEqual(["w5", "w4", "w2", "w1", "w3"]);
  });

  it("stops a draining instance once it drained or its deadline passed, and not before", () => {
    const actions = planFor(0, [
      inst("w1", "draining"),
      inst("w2", "draining", { drained: true }),
      inst("w3", "draining", { drainExpired: true }),
    ]);
    expect(actions).toEqual([
      { kind: "stop", service: "web", instanceId: "w2", reason: "it finished draining" },
      { kind: "stop", service: "web", instanceId: "w3", reason: "its drain deadline passed" },
    ]);
  });

  it("keeps a drained instance until no guest waits for a configuration (its lb may still send it work); a deadline stops it all the same", () => {
    const draining = [inst("w2", "draining", { drained: true }), inst("w3", "draining", { drainExpired: true })];
    let asked = 0;
    const unsettled = () => {
      asked++;
      return false;
    };
    const held = plan({ ...planInput("web", 0, draining, new Set()), configSettled: unsettled });
    expect(held).toEqual([{ kind: "stop", service: "web", instanceId: "w3", reason: "its drain deadline passed" }]);
    // Asked only for the drained one: walking the fleet's configurations is not free.
    expect(asked).toBe(1);
  });

  it("stops stopping and failed instances, and does not count them", () => {
    const actions = planFor(1, [inst("w1", "stopping"), inst("w2", "failed"), inst("w3", "ready")]);
    expect(brief(actions)).toEqual(["stop w1", "stop w2"]);
    expect(actions[1]!.reason).toBe("it is failed");
  });

  it("plans nothing that is in flight", () => {
    const instances = [
      inst("w1", "stopping"),
      inst("w2", "draining", { drained: true }),
      inst("w3", "ready"),
      inst("w4", "ready", { load: 1 }),
    ];
    const inFlight = [stopKey("w1"), stopKey("w2"), drainKey("w3")];
    expect(brief(planFor(0, instances, inFlight))).toEqual(["drain w4"]);
  });

  it("is a pure function: same input, same output, input untouched", () => {
    const instances = Object.freeze([inst("w2", "ready", { load: 1 }), inst("w1", "ready", { load: 2 })]);
    const a = planFor(1, [...instances]);
    const b = planFor(1, [...instances]);
    expect(a).toEqual(b);
    expect(instances.map((i) => i.id)).toEqual(["w2", "w1"]);
  });
});

// A model of what the manager does with a plan: each intent is recorded at once
// (start -> a requested instance, drain -> draining, stop -> stopping + key in flight),
// and the world moves on between plans.
type Op =
  | { op: "target"; n: number }
  | { op: "progress"; i: number }
  | { op: "drained"; i: number }
  | { op: "expire"; i: number }
  | { op: "stopped"; i: number }
  | { op: "crash"; i: number }
  | { op: "load"; i: number; load: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ op: fc.constant("target" as const), n: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ op: fc.constant("progress" as const), i: fc.nat(20) }),
  fc.record({ op: fc.constant("drained" as const), i: fc.nat(20) }),
  fc.record({ op: fc.constant("expire" as const), i: fc.nat(20) }),
  fc.record({ op: fc.constant("stopped" as const), i: fc.nat(20) }),
  fc.record({ op: fc.constant("crash" as const), i: fc.nat(20) }),
  fc.record({ op: fc.constant("load" as const), i: fc.nat(20), load: fc.integer({ min: 0, max: 3 }) }),
);

const phaseArb = fc.constantFrom<InstancePhase>("requested", "starting", "ready", "draining", "stopping", "failed");

class Model {
  readonly instances = new Map<string, Mutable<PlannedInstance>>();
  readonly inFlight = new Set<string>();
  private ordinal = 0;
  readonly drainedOnce = new Set<string>();
  readonly stoppedOnce = new Set<string>();

  constructor(
    public target: number,
    initial: { phase: InstancePhase; load: number | undefined; drained: boolean }[],
  ) {
    for (const i of initial) {
      const id = this.add(i.phase, i.load);
      const x = this.instances.get(id)!;
      x.drained = i.phase === "draining" && i.drained;
      // An instance that is already stopping has its stop in flight, as in the manager.
      if (i.phase === "stopping") {
        this.inFlight.add(stopKey(id));
        this.stoppedOnce.add(id);
      }
    }
  }

  add(phase: InstancePhase, load: number | undefined, planned?: { id: string; ordinal: number }): string {
    const ordinal = planned?.ordinal ?? this.ordinal + 1;
    this.ordinal = Math.max(this.ordinal, ordinal);
    const id = planned?.id ?? `w${ordinal}`;
    this.instances.set(id, { id, phase, ordinal, load, drained: false, drainExpired: false });
    return id;
  }

  plan(): Action[] {
    return plan(planInput("web", this.target, [...this.instances.values()], this.inFlight, this.ordinal + 1));
  }

  get active(): number {
    return [...this.instances.values()].filter((i) => ["requested", "starting", "ready"].includes(i.phase)).length;
  }

  /** Records each intent; fails if an action is issued twice. */
  record(actions: Action[]): void {
    for (const a of actions) {
      expect(this.inFlight.has(actionKey(a))).toBe(false);
      if (a.kind === "start") {
        expect(this.instances.has(a.instanceId)).toBe(false);
        this.add("requested", undefined, { id: a.instanceId, ordinal: a.ordinal });
      } else if (a.kind === "drain") {
        const i = this.instances.get(a.instanceId)!;
        expect(i.phase).toBe("ready");
        expect(this.drainedOnce.has(i.id)).toBe(false);
        this.drainedOnce.add(i.id);
        i.phase = "draining";
      } else {
        const i = this.instances.get(a.instanceId)!;
        expect(this.stoppedOnce.has(i.id)).toBe(false);
        this.stoppedOnce.add(i.id);
        if (i.phase !== "failed") i.phase = "stopping";
        this.inFlight.add(actionKey(a));
      }
    }
  }

  nth(i: number): Mutable<PlannedInstance> | undefined {
    const all = [...this.instances.values()];
    return all.length === 0 ? undefined : all[i % all.length];
  }

  world(op: Op): void {
    if (op.op === "target") {
      this.target = op.n;
      return;
    }
    const x = this.nth(op.i);
    if (x === undefined) return;
    switch (op.op) {
      case "progress":
        if (x.phase === "requested") x.phase = "starting";
        else if (x.phase === "starting") x.phase = "ready";
        return;
      case "drained":
        if (x.phase === "draining") x.drained = true;
        return;
      case "expire":
        if (x.phase === "draining") x.drainExpired = true;
        return;
      case "stopped":
        if (this.inFlight.delete(stopKey(x.id))) this.instances.delete(x.id);
        return;
      case "crash":
        if (x.phase !== "stopping" && x.phase !== "gone") x.phase = "failed";
        return;
      case "load":
        x.load = op.load;
        return;
    }
  }
}

describe("plan (properties)", () => {
  const initialArb = fc.array(
    fc.record({
      phase: phaseArb,
      load: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
      drained: fc.boolean(),
    }),
    { maxLength: 10 },
  );

  it("planning again after recording the intents plans nothing, and active == target", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 12 }), initialArb, (target, initial) => {
        const m = new Model(target, initial);
        m.record(m.plan());
        expect(m.active).toBe(target);
        expect(m.plan()).toEqual([]);
      }),
    );
  });

  it("never issues an action twice while the world moves, and converges on the target", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 8 }),
        initialArb,
        fc.array(opArb, { maxLength: 60 }),
        (target, initial, ops) => {
          const m = new Model(target, initial);
          m.record(m.plan());
          for (const op of ops) {
            m.world(op);
            m.record(m.plan());
            expect(m.active).toBe(m.target);
          }
          expect(m.plan()).toEqual([]);
        },
      ),
    );
  });
});
