import { describe, expect, it } from "vitest";
import { backoffDelay } from "./backoff.js";

const policy = { initialMs: 100, maxMs: 30_000 };

describe("backoffDelay", () => {
  it("grows the ceiling exponentially and caps it", () => {
    const top = () => 0.999999;
    expect(backoffDelay(0, policy, top)).toBe(99);
    expect(backoffDelay(1, policy, top)).toBe(199);
    expect(backoffDelay(5, policy, top)).toBe(3199);
    expect(backoffDelay(9, policy, top)).toBe(29_999);
    expect(backoffDelay(500, policy, top)).toBe(29_999);
  });

  it("draws a full-jitter delay anywhere below the ceiling", () => {
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
  });

  it("waits at least what a retryable refusal asked for, even past the cap", () => {
    expect(backoffDelay(0, policy, () => 0, 2_000)).toBe(2_000);
    expect(backoffDelay(20, policy, () => 0.5, 60_000)).toBe(60_000);
    expect(backoffDelay(20, policy, () => 0.5, 10)).toBe(15_000);
  });
});
