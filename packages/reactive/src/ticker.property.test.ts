/**
 * Property tests of the synchrony hypothesis over random traces: random
 * pushes at random virtual times, random flushes, random tick windows and caps,
 * with a reaction that pushes follow-ups back into the ticker (one generation
 * deep, so every trace ends).
 */

import { VirtualClock } from "@froctal/primitives";
import fc from "fast-check";
import { autorun, computed, observable } from "mobx";
import { describe, expect, it } from "vitest";
import { effect } from "./effect.js";
import { createTicker } from "./ticker.js";

interface Item {
  readonly id: string;
  readonly d: number;
  readonly echo: boolean;
}

type Step = { kind: "push"; d: number } | { kind: "wait"; ms: number } | { kind: "flush" };

interface Config {
  readonly delayMs: number;
  readonly maxItemsPerTick: number | undefined;
  readonly echoes: boolean;
}

const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -50, max: 50 }).map((d): Step => ({ kind: "push", d })) },
  { weight: 3, arbitrary: fc.integer({ min: 0, max: 30 }).map((ms): Step => ({ kind: "wait", ms })) },
  { weight: 1, arbitrary: fc.constant<Step>({ kind: "flush" }) },
);
const trace = fc.array(step, { maxLength: 80 });
const config: fc.Arbitrary<Config> = fc.record({
  delayMs: fc.integer({ min: 0, max: 20 }),
  maxItemsPerTick: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
  echoes: fc.boolean(),
});

/**
 * Plays a trace. The store keeps an invariant that every item breaks and then
 * restores (a += d, then b -= d), and counts ticks begun (observable) and ticks
 * finished (plain): a reaction that ran inside a tick would see them differ.
 */
function play(steps: readonly Step[], { delayMs, maxItemsPerTick, echoes }: Config) {
  const clock = new VirtualClock();
  const a = observable.box(0);
  const b = observable.box(0);
  const begun = observable.box(0);
  const last = observable.box<Item | undefined>(undefined, { deep: false });
  const sum = computed(() => a.get() + b.get());
  let finished = 0;
  const outputs: string[] = [];
  const violations: string[] = [];
  const pushed: Item[] = [];
  const applied: Item[] = [];
  const batchSizes: number[] = [];

  const ticker = createTicker<Item>({
    clock,
    delayMs,
    maxItemsPerTick,
    apply(items) {
      begun.set(begun.get() + 1);
      batchSizes.push(items.length);
      for (const item of items) {
        applied.push(item);
        a.set(a.get() + item.d);
        b.set(b.get() - item.d);
        last.set(item);
      }
      finished++;
    },
  });
  const push = (item: Item): void => {
    pushed.push(item);
    ticker.push(item);
  };

  const stopWatch = autorun(() => {
    const s = sum.get();
    const t = begun.get();
    if (s !== 0) violations.push(`reaction saw a + b = ${s} in tick ${t}`);
    if (t !== finished) violations.push(`reaction ran inside tick ${t} (${finished} finished)`);
    outputs.push(`@${clock.now()} tick ${t} a=${a.get()}`);
  });
  const stopEcho = effect(
    () => last.get(),
    (item) => {
      outputs.push(`@${clock.now()} last ${item?.id}`);
      if (echoes && item !== undefined && !item.echo && item.d % 2 !== 0) {
        push({ id: `${item.id}'`, d: -item.d, echo: true });
      }
    },
    { onError: (error) => violations.push(`effect threw ${String(error)}`) },
  );

  let n = 0;
  const checkTimers = (): void => {
    // No idle timers, and never more than one.
    const armed = clock.pending;
    if (armed > 1 || (armed === 1) !== ticker.stats.pending > 0) {
      violations.push(`${armed} timer(s) armed with ${ticker.stats.pending} item(s) pending`);
    }
  };
  for (const s of steps) {
    if (s.kind === "push") push({ id: `#${n++}`, d: s.d, echo: false });
    else if (s.kind === "wait") clock.advance(s.ms);
    else ticker.flush();
    checkTimers();
  }
  clock.runAll();
  checkTimers();
  stopWatch();
  stopEcho();
  return { outputs, violations, pushed, applied, batchSizes, stats: { ...ticker.stats }, state: ticker.state };
}

describe("ticker properties", () => {
  it("no glitches: no reaction or computed ever sees a half-applied tick", () => {
    fc.assert(
      fc.property(trace, config, (steps, cfg) => {
        expect(play(steps, cfg).violations).toEqual([]);
      }),
    );
  });

  it("determinism: the same trace gives the same reaction outputs at the same virtual times", () => {
    fc.assert(
      fc.property(trace, config, (steps, cfg) => {
        const first = play(steps, cfg);
        const second = play(steps, cfg);
        expect(second.outputs).toEqual(first.outputs);
        expect(second.batchSizes).toEqual(first.batchSizes);
        expect(second.stats).toEqual(first.stats);
      }),
    );
  });

  it("every pushed item is applied exactly once, in push order, within the cap", () => {
    fc.assert(
      fc.property(trace, config, (steps, cfg) => {
        const run = play(steps, cfg);
        expect(run.applied).toHaveLength(run.pushed.length);
        run.applied.forEach((item, i) => {
          expect(item).toBe(run.pushed[i]);
        });
        const cap = cfg.maxItemsPerTick ?? Number.POSITIVE_INFINITY;
        expect(run.batchSizes.every((size) => size >= 1 && size <= cap)).toBe(true);
        expect(run.state).toBe("open");
        expect(run.stats).toMatchObject({ pending: 0, dropped: 0, errors: 0, applied: run.pushed.length });
      }),
    );
  });
});
