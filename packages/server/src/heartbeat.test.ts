import { VirtualClock } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { Heartbeat } from "./heartbeat.js";

function watch(clock: VirtualClock) {
  const log: string[] = [];
  const heartbeat = new Heartbeat(clock, 1_000, {
    beat: () => {},
    ping: (now) => log.push(`ping ${now}`),
    timeout: (silent) => log.push(`timeout ${clock.now()} after ${silent}`),
  });
  return { log, heartbeat };
}

describe("Heartbeat", () => {
  it("pings a silent peer every period and gives up after three", () => {
    const clock = new VirtualClock();
    const { log, heartbeat } = watch(clock);
    heartbeat.start();
    clock.advance(10_000);
    expect(log).toEqual(["ping 1000", "ping 2000", "timeout 3000 after 3000"]);
    expect(clock.pending).toBe(0);
  });

  it("counts silence from the last thing heard, with one timer however much is heard", () => {
    const clock = new VirtualClock();
    const { log, heartbeat } = watch(clock);
    heartbeat.start();
    for (let t = 100; t <= 900; t += 100) {
      clock.advance(100);
      heartbeat.heard(clock.now());
    }
    expect(clock.pending).toBe(1);
    clock.advance(999);
    expect(log).toEqual([]);
    clock.advance(1);
    expect(log).toEqual(["ping 1900"]);
    heartbeat.stop();
    clock.advance(10_000);
    expect(log).toEqual(["ping 1900"]);
    expect(clock.pending).toBe(0);
  });
});
