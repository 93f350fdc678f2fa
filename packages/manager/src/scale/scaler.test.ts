import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ScaleBehavior } from "../policy/fleet.js";
import { clamp, INITIAL_SCALER, type ScalerSettings, type ScalerState, scalerSettings, step } from "./scaler.js";

/** Steps through (time, recommendation) pairs from `target`, returning each step's target and wakeAt. */
function run(s: ScalerSettings, target: number, points: readonly [number, number][]) {
  let state: ScalerState = INITIAL_SCALER;
  const out: { at: number; target: number; wakeAt: number | undefined }[] = [];
  for (const [at, rec] of points) {
    const r = step(s, state, target, clamp(rec, s), at);
    state = r.state;
    target = r.target;
    out.push({ at, target, wakeAt: r.wakeAt });
  }
  return out;
}

describe("scalerSettings", () => {
  it("defaults: no bounds, immediate scale-up, a 5 s scale-down window, no cooldown or step limit", () => {
    const s = scalerSettings({});
    expect(s).toEqual({
      min: 0,
      max: Number.POSITIVE_INFINITY,
      up: { stabilizationMs: 0, cooldownMs: 0, maxStep: Number.POSITIVE_INFINITY },
      down: { stabilizationMs: 5_000, cooldownMs: 0, maxStep: Number.POSITIVE_INFINITY },
    });
    expect(scalerSettings({ min: 1, max: 4, scaleDown: { maxStep: 1 } }).down).toEqual({
      stabilizationMs: 5_000,
      cooldownMs: 0,
      maxStep: 1,
    });
  });
});

describe("clamp", () => {
  const s = scalerSettings({ min: 1, max: 5 });
  it("rounds up and bounds the recommendation; a non-number means min", () => {
    expect([0, 1, 2.1, 4.9, 5, 9].map((v) => clamp(v, s))).toEqual([1, 1, 3, 5, 5, 5]);
    expect(clamp(Number.NaN, s)).toBe(1);
  });
});

describe("step", () => {
  it("scales up at once with no up-stabilization, and then needs no wake-up", () => {
    const s = scalerSettings({});
    const r = step(s, INITIAL_SCALER, 1, 4, 1_000);
    expect(r.target).toBe(4);
    expect(r.wakeAt).toBeUndefined();
    expect(r.state.lastUpAt).toBe(1_000);
  });

  it("holds when the recommendation equals the target", () => {
    const r = step(scalerSettings({}), INITIAL_SCALER, 3, 3, 0);
    expect(r).toMatchObject({ target: 3, wakeAt: undefined });
  });

  it("scales down only after the whole down window asked for less, to the largest value of that window", () => {
    const s = scalerSettings({ scaleDown: { stabilizationMs: 5_000 } });
    const steps = run(s, 5, [
      [0, 5],
      [1_000, 2],
      [3_000, 3],
      [5_999, 3],
      [6_000, 3],
    ]);
    expect(steps.map((x) => x.target)).toEqual([5, 5, 5, 5, 3]);
    expect(steps[1]!.wakeAt).toBe(6_000);
    expect(steps[2]!.wakeAt).toBe(6_000);
  });

  it("restarts the down window when a recommendation at or above the target interrupts it", () => {
    const s = scalerSettings({ scaleDown: { stabilizationMs: 5_000 } });
    const steps = run(s, 5, [
      [0, 5],
      [1_000, 2],
      [2_000, 5],
      [3_000, 2],
      [7_000, 2],
      [8_000, 2],
    ]);
    expect(steps.map((x) => x.target)).toEqual([5, 5, 5, 5, 5, 2]);
    expect(steps[1]!.wakeAt).toBe(6_000);
    expect(steps[3]!.wakeAt).toBe(8_000);
  });

  it("with an up window, scales up to the smallest recommendation of that window", () => {
    const s = scalerSettings({ scaleUp: { stabilizationMs: 3_000 } });
    const steps = run(s, 1, [
      [0, 1],
      [1_000, 6],
      [2_000, 4],
      [4_000, 5],
      [5_000, 5],
      [7_000, 5],
    ]);
    expect(steps.map((x) => x.target)).toEqual([1, 1, 1, 4, 4, 5]);
    expect(steps[1]!.wakeAt).toBe(4_000);
    expect(steps[2]!.wakeAt).toBe(4_000);
    expect(steps[4]!.wakeAt).toBe(7_000);
  });

  it("with no earlier recommendation, the first one stands for the whole window (as an HPA's does)", () => {
    const s = scalerSettings({ scaleUp: { stabilizationMs: 3_000 }, scaleDown: { stabilizationMs: 3_000 } });
    expect(step(s, INITIAL_SCALER, 0, 4, 0).target).toBe(4);
    expect(step(s, INITIAL_SCALER, 4, 1, 0).target).toBe(1);
  });

  it("moves a target outside [min, max] inside at once, whatever the windows", () => {
    const s = scalerSettings({ min: 2, max: 4, scaleUp: { stabilizationMs: 60_000, maxStep: 1 } });
    const primed = step(s, INITIAL_SCALER, 2, 2, 0).state;
    expect(step(s, primed, 0, 4, 10).target).toBe(2);
    expect(step(s, primed, 9, 4, 10).target).toBe(4);
  });

  it("waits out the cooldown in the same direction and says when", () => {
    const s = scalerSettings({ scaleUp: { cooldownMs: 10_000 } });
    const steps = run(s, 1, [
      [0, 3],
      [1_000, 5],
      [9_999, 5],
      [10_000, 5],
    ]);
    expect(steps.map((x) => x.target)).toEqual([3, 3, 3, 5]);
    expect(steps[1]!.wakeAt).toBe(10_000);
  });

  it("a cooldown in one direction does not hold back the other", () => {
    const s = scalerSettings({ scaleUp: { cooldownMs: 60_000 }, scaleDown: { stabilizationMs: 0 } });
    const steps = run(s, 1, [
      [0, 4],
      [10, 2],
    ]);
    expect(steps.map((x) => x.target)).toEqual([4, 2]);
  });

  it("moves by at most maxStep, and wakes up to take the next step", () => {
    const s = scalerSettings({
      scaleUp: { maxStep: 2 },
      scaleDown: { maxStep: 3, stabilizationMs: 0, cooldownMs: 500 },
    });
    const up = run(s, 1, [
      [0, 8],
      [1, 8],
      [2, 8],
      [3, 8],
    ]);
    expect(up.map((x) => x.target)).toEqual([3, 5, 7, 8]);
    expect(up.map((x) => x.wakeAt)).toEqual([1, 2, 3, undefined]);
    const down = run(s, 8, [
      [0, 1],
      [500, 1],
      [1_000, 1],
    ]);
    expect(down.map((x) => x.target)).toEqual([5, 2, 1]);
    expect(down.map((x) => x.wakeAt)).toEqual([500, 1_000, undefined]);
  });

  it("keeps only the history the longest window needs", () => {
    const s = scalerSettings({ scaleDown: { stabilizationMs: 1_000 } });
    let state: ScalerState = INITIAL_SCALER;
    for (let t = 0; t < 100_000; t += 100) state = step(s, state, 5, (t / 100) % 7, t).state;
    expect(state.history.length).toBeLessThanOrEqual(12);
  });
});

const behaviorArb: fc.Arbitrary<ScaleBehavior> = fc.record({
  stabilizationMs: fc.constantFrom(0, 100, 1_000, 5_000),
  cooldownMs: fc.constantFrom(0, 50, 700, 3_000),
  maxStep: fc.constantFrom(1, 2, 5, Number.POSITIVE_INFINITY),
});

const settingsArb = fc
  .record({
    min: fc.integer({ min: 0, max: 3 }),
    span: fc.option(fc.integer({ min: 0, max: 10 }), { nil: undefined }),
    scaleUp: behaviorArb,
    scaleDown: behaviorArb,
  })
  .map(({ min, span, scaleUp, scaleDown }) =>
    scalerSettings({ min, ...(span === undefined ? {} : { max: min + span }), scaleUp, scaleDown }),
  );

const traceArb = fc.array(fc.tuple(fc.integer({ min: 0, max: 2_000 }), fc.integer({ min: -2, max: 20 })), {
  minLength: 1,
  maxLength: 40,
});

describe("step (properties)", () => {
  it("the target is always within [min, max], even from a target outside them", () => {
    fc.assert(
      fc.property(settingsArb, fc.integer({ min: 0, max: 20 }), traceArb, (s, start, trace) => {
        let at = 0;
        const points = trace.map(([dt, rec]): [number, number] => {
          at += dt;
          return [at, rec];
        });
        for (const x of run(s, start, points)) {
          expect(x.target).toBeGreaterThanOrEqual(s.min);
          expect(x.target).toBeLessThanOrEqual(s.max);
        }
      }),
    );
  });

  it("moves toward the recommendation, never past it, by at most maxStep; no wake-up iff it got there", () => {
    fc.assert(
      fc.property(settingsArb, traceArb, (s, trace) => {
        let state: ScalerState = INITIAL_SCALER;
        let target = s.min;
        let at = 0;
        for (const [dt, raw] of trace) {
          at += dt;
          const rec = clamp(raw, s);
          const r = step(s, state, target, rec, at);
          if (rec >= target) expect(r.target).toBeGreaterThanOrEqual(target);
          if (rec >= target) expect(r.target).toBeLessThanOrEqual(rec);
          if (rec <= target) expect(r.target).toBeLessThanOrEqual(target);
          if (rec <= target) expect(r.target).toBeGreaterThanOrEqual(rec);
          const maxStep = r.target > target ? s.up.maxStep : s.down.maxStep;
          expect(Math.abs(r.target - target)).toBeLessThanOrEqual(maxStep);
          expect(r.wakeAt === undefined).toBe(r.target === rec);
          if (r.wakeAt !== undefined) expect(r.wakeAt).toBeGreaterThan(at);
          state = r.state;
          target = r.target;
        }
      }),
    );
  });

  it("nothing changes before wakeAt, and stepping at each wakeAt reaches a steady recommendation", () => {
    fc.assert(
      fc.property(settingsArb, traceArb, fc.integer({ min: 0, max: 20 }), (s, trace, finalRaw) => {
        let state: ScalerState = INITIAL_SCALER;
        let target = s.min;
        let at = 0;
        for (const [dt, raw] of trace) {
          at += dt;
          const r = step(s, state, target, clamp(raw, s), at);
          state = r.state;
          target = r.target;
        }
        // From here the recommendation holds still.
        const rec = clamp(finalRaw, s);
        at += 1;
        let r = step(s, state, target, rec, at);
        for (let n = 0; n < 100 && r.wakeAt !== undefined; n++) {
          const wakeAt: number = r.wakeAt;
          // Any evaluation strictly before wakeAt changes nothing.
          if (wakeAt - 1 > at) {
            const early = step(s, r.state, r.target, rec, wakeAt - 1);
            expect(early.target).toBe(r.target);
          }
          at = wakeAt;
          r = step(s, r.state, r.target, rec, at);
        }
        expect(r.target).toBe(rec);
        expect(r.wakeAt).toBeUndefined();
      }),
    );
  });
});
