import { autorun, comparer, computed, configure } from "mobx";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { Listener, Subscribable } from "./absorb.js";
import { absorb } from "./absorb.js";
import { hold } from "./hold.js";

/** A stream the test fires synchronously. */
function subject<T>() {
  const listeners = new Set<Listener<T>>();
  const stream: Subscribable<T> = {
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
  return {
    stream,
    fire: (v: T) => {
      for (const l of listeners) l(v);
    },
    count: () => listeners.size,
  };
}

beforeEach(() => {
  configure({ enforceActions: "always" });
});
afterEach(() => {
  configure({ enforceActions: "observed" });
  vi.restoreAllMocks();
});

describe("hold", () => {
  it("holds the initial value, then the latest event, written in an action", () => {
    const warn = vi.spyOn(console, "warn");
    const { stream, fire } = subject<number>();
    const load = hold(stream, 0);
    expect(load.get()).toBe(0);
    fire(3);
    fire(5);
    expect(load.get()).toBe(5);
    expect(warn).not.toHaveBeenCalled();
  });

  it("drives computeds and reactions, once per distinct event", () => {
    const { stream, fire } = subject<number>();
    const load = hold(stream, 1);
    const doubled = computed(() => load.get() * 2);
    const seen: number[] = [];
    const stop = autorun(() => seen.push(doubled.get()));
    fire(2);
    fire(2);
    fire(4);
    stop();
    expect(seen).toEqual([2, 4, 8]);
  });

  it("takes an equality so structurally equal events are no change", () => {
    const { stream, fire } = subject<{ n: number }>();
    const b = hold(stream, { n: 0 }, { equals: comparer.structural });
    let runs = 0;
    const stop = autorun(() => {
      b.get();
      runs++;
    });
    fire({ n: 0 });
    fire({ n: 1 });
    fire({ n: 1 });
    stop();
    expect(runs).toBe(2);
  });

  it("keeps values shallow: an event object is stored as given", () => {
    const { stream, fire } = subject<{ n: number }>();
    const b = hold(stream, { n: 0 });
    const event = { n: 1 };
    fire(event);
    expect(b.get()).toBe(event);
  });

  it("dispose stops following the stream and keeps the last value", () => {
    const { stream, fire, count } = subject<number>();
    const b = hold(stream, 0);
    fire(1);
    b.dispose();
    fire(2);
    expect(b.get()).toBe(1);
    expect(count()).toBe(0);
  });

  it("holds an absorbed async source", async () => {
    async function* ticks() {
      yield "a";
      yield "b";
    }
    const stream = absorb(ticks());
    const latest = hold(stream, "");
    const seen: string[] = [];
    const stop = autorun(() => seen.push(latest.get()));
    await stream.ended;
    stop();
    expect(seen).toEqual(["", "a", "b"]);
  });
});
