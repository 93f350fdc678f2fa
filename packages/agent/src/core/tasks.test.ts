import { describe, expect, it } from "vitest";
import { consume, outcomeOf } from "./tasks.js";

describe("outcomeOf", () => {
  it("lifts a value as JSON and an error as a sentence", () => {
    expect(outcomeOf({ status: "fulfilled", value: { n: 1 } }, 100, 100)).toEqual({ ok: true, valueJson: '{"n":1}' });
    expect(outcomeOf({ status: "fulfilled", value: undefined }, 100, 100)).toEqual({ ok: true, valueJson: "" });
    const failed = Object.assign(new Error("boom"), { exitCode: 3 });
    expect(outcomeOf({ status: "rejected", reason: failed }, 100, 100)).toEqual({ ok: false, code: 3, error: "boom" });
    expect(outcomeOf({ status: "rejected", reason: "plain" }, 100, 100)).toMatchObject({ ok: false, code: 1 });
  });

  it("says why a value could not be reported", () => {
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(outcomeOf({ status: "fulfilled", value: cyclic }, 100, 100).error).toMatch(/not JSON/);
    expect(outcomeOf({ status: "fulfilled", value: "x".repeat(200) }, 100, 100).error).toMatch(/over the limit/);
  });
});

describe("consume", () => {
  async function* count(n: number) {
    for (let i = 1; i <= n; i++) yield i;
  }

  it("passes every value on and settles when the source ends", async () => {
    const seen: number[] = [];
    const running = consume(
      count(5),
      (v) => seen.push(v),
      () => {},
    );
    await running.done;
    expect(seen).toEqual([1, 2, 3, 4, 5]);
  });

  it("stops at once when disposed, and closes the source", async () => {
    let finished = false;
    async function* forever() {
      try {
        for (let i = 0; ; i++) {
          yield i;
          await new Promise((r) => setTimeout(r, 1));
        }
      } finally {
        finished = true;
      }
    }
    const seen: number[] = [];
    const running = consume(
      forever(),
      (v) => {
        seen.push(v);
        if (v === 2) running();
      },
      () => {},
    );
    await running.done;
    const count = seen.length;
    await new Promise((r) => setTimeout(r, 10));
    expect(seen.length).toBe(count);
    expect(finished).toBe(true);
  });

  it("rejects done and reports when the source or the callback throws", async () => {
    async function* failing() {
      yield 1;
      throw new Error("source broke");
    }
    const errors: unknown[] = [];
    await expect(
      consume(
        failing(),
        () => {},
        (e) => errors.push(e),
      ).done,
    ).rejects.toThrow("source broke");
    await expect(
      consume(
        count(3),
        () => {
          throw new Error("fn broke");
        },
        (e) => errors.push(e),
      ).done,
    ).rejects.toThrow("fn broke");
    expect(errors).toHaveLength(2);
  });
});
