import { VirtualClock } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { CallGate } from "./gate.js";

function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}

const timeout = () => new Error("timed out");

describe("CallGate", () => {
  it("runs at most max calls at once and starts queued ones in order as slots free", async () => {
    const clock = new VirtualClock();
    const gate = new CallGate(2);
    const calls = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const results = calls.map((d, i) =>
      gate.run(
        () => {
          started.push(i);
          return d.promise;
        },
        clock,
        1000,
        timeout,
      ),
    );
    expect(started).toEqual([0, 1]);
    expect(gate.running).toBe(2);
    calls[1]!.resolve();
    await results[1];
    expect(started).toEqual([0, 1, 2]);
    for (const d of calls) d.resolve();
    await Promise.all(results);
    expect(gate.peak).toBe(2);
    expect(gate.running).toBe(0);
  });

  it("times out a caller, waiting time included, but keeps the slot until the call itself returns", async () => {
    const clock = new VirtualClock();
    const gate = new CallGate(1);
    const stuck = deferred();
    const first = gate.run(() => stuck.promise, clock, 100, timeout);
    let secondRan = false;
    const second = gate.run(
      async () => {
        secondRan = true;
      },
      clock,
      50,
      timeout,
    );
    clock.advance(50);
    await expect(second).rejects.toThrow("timed out");
    clock.advance(50);
    await expect(first).rejects.toThrow("timed out");
    // The stuck call still holds the one slot: a third call waits.
    const third = gate.run(async () => "ran", clock, 1000, timeout);
    expect(gate.running).toBe(1);
    stuck.resolve();
    await expect(third).resolves.toBe("ran");
    // The second caller gave up while queued: it never ran.
    expect(secondRan).toBe(false);
    expect(gate.peak).toBe(1);
  });

  it("passes on a call's own rejection, synchronous throws included", async () => {
    const clock = new VirtualClock();
    const gate = new CallGate(1);
    await expect(gate.run(() => Promise.reject(new Error("no")), clock, 10, timeout)).rejects.toThrow("no");
    await expect(
      gate.run(
        () => {
          throw new Error("sync");
        },
        clock,
        10,
        timeout,
      ),
    ).rejects.toThrow("sync");
    expect(gate.running).toBe(0);
    expect(clock.pending).toBe(0);
  });
});
