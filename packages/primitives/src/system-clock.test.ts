import { afterEach, describe, expect, it, vi } from "vitest";
import { MAX_TIMER_DELAY_MS, systemClock } from "./system-clock.js";

afterEach(() => {
  vi.restoreAllMocks();
});

describe("systemClock", () => {
  it("reads a monotonic clock", () => {
    const a = systemClock.now();
    const b = systemClock.now();
    expect(b).toBeGreaterThanOrEqual(a);
  });

  it("runs a real timer once, and its disposer cancels", async () => {
    const log: string[] = [];
    systemClock.setTimeout(() => log.push("kept"), 5);
    const cancel = systemClock.setTimeout(() => log.push("cancelled"), 5);
    cancel();
    cancel();
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(log).toEqual(["kept"]);
  });

  it("waits a delay beyond the host's limit in steps instead of firing early", () => {
    const calls: { fn: () => void; ms: number }[] = [];
    vi.spyOn(globalThis, "setTimeout").mockImplementation(((fn: () => void, ms: number) => {
      calls.push({ fn, ms });
      return calls.length;
    }) as unknown as typeof setTimeout);
    const cleared = vi.spyOn(globalThis, "clearTimeout").mockImplementation(() => {});
    let runs = 0;
    const cancel = systemClock.setTimeout(() => runs++, MAX_TIMER_DELAY_MS * 2 + 7);
    expect(calls.map((c) => c.ms)).toEqual([MAX_TIMER_DELAY_MS]);
    calls[0]!.fn();
    calls[1]!.fn();
    expect(calls.map((c) => c.ms)).toEqual([MAX_TIMER_DELAY_MS, MAX_TIMER_DELAY_MS, 7]);
    expect(runs).toBe(0);
    calls[2]!.fn();
    expect(runs).toBe(1);
    cancel();
    expect(cleared).not.toHaveBeenCalled();
  });

  it("never arms a timer for an infinite delay", () => {
    const spy = vi.spyOn(globalThis, "setTimeout");
    systemClock.setTimeout(() => {}, Number.POSITIVE_INFINITY)();
    expect(spy).not.toHaveBeenCalled();
  });
});

describe("systemClock wall time", () => {
  it("reads the Unix epoch, as Date.now() does", () => {
    const before = Date.now();
    const wall = systemClock.wallNow();
    expect(wall).toBeGreaterThanOrEqual(before);
    expect(wall).toBeLessThanOrEqual(Date.now());
  });
});
