import { describe, expect, it } from "vitest";
import { Lanes } from "./lanes.js";

describe("Lanes", () => {
  it("joins a call like the last one queued, runs a different one after it, and forgets finished lanes", async () => {
    const lanes = new Lanes();
    const log: string[] = [];
    const step = (name: string) => async () => {
      log.push(`${name} begins`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      log.push(`${name} ends`);
    };
    const start = lanes.run("a", "start", step("start"));
    expect(lanes.run("a", "start", step("start again"))).toBe(start);
    const stop = lanes.run("a", "stop", step("stop"));
    expect(lanes.run("a", "stop", step("stop again"))).toBe(stop);
    const other = lanes.run("b", "stop", step("other"));
    await Promise.all([start, stop, other]);
    expect(log.filter((l) => !l.startsWith("other"))).toEqual([
      "start begins",
      "start ends",
      "stop begins",
      "stop ends",
    ]);
    expect(lanes.has("a")).toBe(false);
  });

  it("runs the next call even when the one before failed", async () => {
    const lanes = new Lanes();
    const failed = lanes.run("a", "start", () => Promise.reject(new Error("no")));
    const after = lanes.run("a", "stop", async () => {});
    await expect(failed).rejects.toThrow("no");
    await expect(after).resolves.toBeUndefined();
    await lanes.settled();
  });
});
