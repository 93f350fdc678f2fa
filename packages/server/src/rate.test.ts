import { describe, expect, it } from "vitest";
import { TokenBucket } from "./rate.js";

describe("TokenBucket", () => {
  it("lets a burst through, then refills at its rate", () => {
    const bucket = new TokenBucket(10, 5, 0);
    for (let i = 0; i < 5; i++) expect(bucket.take(1, 0)).toBe(0);
    expect(bucket.take(1, 0)).toBe(100);
    expect(bucket.take(1, 99)).toBe(1);
    expect(bucket.take(1, 100)).toBe(0);
  });

  it("never saves up more than its capacity", () => {
    const bucket = new TokenBucket(10, 5, 0);
    expect(bucket.take(5, 60_000)).toBe(0);
    expect(bucket.take(1, 60_000)).toBe(100);
  });

  it("takes nothing when it cannot take all, and says how long to wait", () => {
    const bucket = new TokenBucket(100, 100, 0);
    expect(bucket.take(60, 0)).toBe(0);
    expect(bucket.take(60, 0)).toBe(200);
    expect(bucket.take(40, 0)).toBe(0);
  });

  it("ignores a clock that steps back", () => {
    const bucket = new TokenBucket(1, 1, 1_000);
    expect(bucket.take(1, 1_000)).toBe(0);
    expect(bucket.take(1, 0)).toBe(1_000);
  });
});
