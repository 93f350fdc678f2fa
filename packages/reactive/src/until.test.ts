import { FroctalError, VirtualClock } from "@froctal/primitives";
import { computed, observable, runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { until } from "./until.js";

describe("until", () => {
  it("resolves at once when the value already matches", async () => {
    const ready = observable.box(true);
    await expect(until(ready)).resolves.toBe(true);
  });

  it("resolves with the first matching value, and stops watching", async () => {
    const replicas = observable.box(1);
    let reads = 0;
    const waiting = until(
      () => {
        reads++;
        return replicas.get();
      },
      { match: (n) => n >= 3 },
    );
    runInAction(() => replicas.set(2));
    runInAction(() => replicas.set(4));
    runInAction(() => replicas.set(5));
    await expect(waiting).resolves.toBe(4);
    expect(reads).toBe(3);
  });

  it("watches computeds and any behaviour with get()", async () => {
    const a = observable.box(1);
    const sum = computed(() => a.get() + 10);
    const waiting = until(sum, { match: (v) => v === 12 });
    runInAction(() => a.set(2));
    await expect(waiting).resolves.toBe(12);
  });

  it("times out on the injected clock with FROCTAL_E_TIMEOUT and releases everything", async () => {
    const clock = new VirtualClock();
    const flag = observable.box(false);
    let reads = 0;
    const waiting = until(
      () => {
        reads++;
        return flag.get();
      },
      { timeoutMs: 50, clock, name: "guest ready" },
    );
    clock.advance(49);
    expect(clock.pending).toBe(1);
    clock.advance(1);
    await expect(waiting).rejects.toThrow("FROCTAL_E_TIMEOUT: guest ready did not hold within 50 ms");
    await waiting.catch((e: FroctalError) => expect(e.retryable).toBe(true));
    runInAction(() => flag.set(true));
    expect(reads).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("cancels its timer when it resolves", async () => {
    const clock = new VirtualClock();
    const flag = observable.box(false);
    const waiting = until(flag, { timeoutMs: 50, clock });
    runInAction(() => flag.set(true));
    await expect(waiting).resolves.toBe(true);
    expect(clock.pending).toBe(0);
  });

  it("cancel() rejects with FROCTAL_E_CANCELLED and stops watching", async () => {
    const clock = new VirtualClock();
    const flag = observable.box(false);
    let reads = 0;
    const waiting = until(
      () => {
        reads++;
        return flag.get();
      },
      { timeoutMs: 10, clock },
    );
    waiting.cancel();
    waiting.cancel();
    await expect(waiting).rejects.toMatchObject({ code: "FROCTAL_E_CANCELLED" });
    runInAction(() => flag.set(true));
    expect(reads).toBe(1);
    expect(clock.pending).toBe(0);
  });

  it("aborts with a signal, before or while waiting, keeping the reason as cause", async () => {
    const before = new AbortController();
    before.abort("shutting down");
    await expect(until(() => false, { signal: before.signal })).rejects.toMatchObject({
      code: "FROCTAL_E_CANCELLED",
      cause: "shutting down",
    });

    const during = new AbortController();
    const waiting = until(() => false, { signal: during.signal });
    during.abort("later");
    await expect(waiting).rejects.toMatchObject({ code: "FROCTAL_E_CANCELLED", cause: "later" });
  });

  it("rejects with the error of a throwing read or match", async () => {
    const n = observable.box(0);
    const waiting = until(n, {
      match: (v) => {
        if (v === 2) throw new Error("bad policy");
        return false;
      },
    });
    runInAction(() => n.set(1));
    runInAction(() => n.set(2));
    await expect(waiting).rejects.toThrow("bad policy");
  });

  it("refuses a negative timeout", () => {
    expect(() => until(() => true, { timeoutMs: -1 })).toThrow(FroctalError);
  });
});
