import { describe, expect, it } from "vitest";
import { VirtualClock } from "./virtual-clock.js";

describe("VirtualClock", () => {
  it("stands still until advanced, then runs due timers in time order, ties in schedule order", () => {
    const clock = new VirtualClock({ start: 100 });
    const log: string[] = [];
    clock.setTimeout(() => log.push(`c@${clock.now()}`), 30);
    clock.setTimeout(() => log.push(`a@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`b@${clock.now()}`), 10);
    clock.setTimeout(() => log.push(`late@${clock.now()}`), 31);
    expect(clock.now()).toBe(100);
    expect(clock.pending).toBe(4);
    expect(clock.advance(30)).toBe(3);
    expect(log).toEqual(["a@110", "b@110", "c@130"]);
    expect(clock.now()).toBe(130);
    expect(clock.pending).toBe(1);
  });

  it("runs timers scheduled by timers when they fall due within the same advance", () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    clock.setTimeout(() => {
      log.push(clock.now());
      clock.setTimeout(() => log.push(clock.now()), 0);
      clock.setTimeout(() => log.push(clock.now()), 5);
      clock.setTimeout(() => log.push(clock.now()), 50);
    }, 5);
    expect(clock.advance(10)).toBe(3);
    expect(log).toEqual([5, 5, 10]);
    expect(clock.pending).toBe(1);
  });

  it("cancels with the disposer, twice harmlessly, and after firing harmlessly", () => {
    const clock = new VirtualClock();
    let runs = 0;
    const cancel = clock.setTimeout(() => runs++, 1);
    const fired = clock.setTimeout(() => runs++, 1);
    cancel();
    cancel();
    expect(clock.pending).toBe(1);
    clock.advance(1);
    fired();
    expect(runs).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("keeps order when many timers are cancelled (compaction)", () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    const cancels = [];
    for (let i = 0; i < 500; i++) cancels.push(clock.setTimeout(() => log.push(i), 1000 - i));
    for (let i = 0; i < 500; i++) if (i % 5 !== 0) cancels[i]!();
    expect(clock.pending).toBe(100);
    clock.runAll();
    const expected = [];
    for (let i = 495; i >= 0; i -= 5) expected.push(i);
    expect(log).toEqual(expected);
  });

  it("runAll jumps to each due time and is bounded", () => {
    const clock = new VirtualClock({ maxTimersPerRun: 50 });
    clock.setTimeout(() => {}, 1000);
    expect(clock.runAll()).toBe(1);
    expect(clock.now()).toBe(1000);
    const rearm = (): void => {
      clock.setTimeout(rearm, 10);
    };
    rearm();
    expect(() => clock.runAll()).toThrow(/FROCTAL_E_RUNAWAY: VirtualClock ran 50 timers/);
    expect(clock.pending).toBe(1);
    expect(() => clock.advance(0)).not.toThrow();
  });

  it("treats odd delays like hosts do: NaN and negative now, Infinity never", () => {
    const clock = new VirtualClock();
    let runs = 0;
    clock.setTimeout(() => runs++, Number.NaN);
    clock.setTimeout(() => runs++, -5);
    clock.setTimeout(() => runs++, Number.POSITIVE_INFINITY);
    expect(clock.pending).toBe(2);
    clock.advance(0);
    expect(runs).toBe(2);
    expect(clock.runAll()).toBe(0);
  });

  it("refuses bad input and reentrant advances", () => {
    const clock = new VirtualClock();
    expect(() => clock.advance(-1)).toThrow(/FROCTAL_E_CONFIG/);
    expect(() => clock.advance(Number.POSITIVE_INFINITY)).toThrow(/FROCTAL_E_CONFIG/);
    expect(() => new VirtualClock({ maxTimersPerRun: 0 })).toThrow(/FROCTAL_E_CONFIG/);
    let inner: unknown;
    clock.setTimeout(() => {
      try {
        clock.advance(1);
      } catch (error) {
        inner = error;
      }
    }, 0);
    clock.advance(0);
    expect(String(inner)).toMatch(/FROCTAL_E_REENTRANT/);
  });

  it("stops at a throwing timer and carries on with the next advance", () => {
    const clock = new VirtualClock();
    const log: number[] = [];
    clock.setTimeout(() => {
      throw new Error("boom");
    }, 5);
    clock.setTimeout(() => log.push(clock.now()), 7);
    expect(() => clock.advance(10)).toThrow("boom");
    expect(clock.now()).toBe(5);
    clock.advance(5);
    expect(log).toEqual([7]);
    expect(clock.now()).toBe(10);
  });
});

describe("VirtualClock wall time", () => {
  it("reads wallStart at start and moves with now()", () => {
    const clock = new VirtualClock({ start: 100, wallStart: 1_700_000_000_000 });
    expect(clock.wallNow()).toBe(1_700_000_000_000);
    clock.advance(250);
    expect(clock.wallNow()).toBe(1_700_000_000_250);
    expect(clock.now()).toBe(350);
  });
});
