import { VirtualClock } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { microtasks } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { Executor, type ExecutorOptions, type Outcome } from "./executor.js";

interface Deferred {
  readonly promise: Promise<void>;
  resolve(): void;
  reject(error: unknown): void;
}

function deferred(): Deferred {
  let resolve!: () => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A test action: a key and what one attempt does. */
interface Job {
  readonly key: string;
  readonly run: () => Promise<void>;
}

/**
 * An executor over test jobs whose outcomes are settled as soon as reported,
 * as a tick would apply them (pass settle: false to hold them in flight).
 */
function setup(options: Partial<ExecutorOptions<Job>> & { settle?: boolean } = {}) {
  const clock = new VirtualClock();
  const outcomes: { key: string; ok: boolean; attempts: number; error?: Outcome<Job>["error"]; at: number }[] = [];
  const executor: Executor<Job> = new Executor<Job>({
    clock,
    keyOf: (job) => job.key,
    perform: (job) => job.run(),
    report: (o) => {
      const { action, ...rest } = o;
      outcomes.push({ key: action.key, ...rest, at: clock.now() });
      if (options.settle ?? true) executor.settle(action);
    },
    ...options,
  });
  const dispatch = (key: string, run: () => Promise<void>) => executor.dispatch({ key, run });
  return { clock, executor, outcomes, dispatch };
}

const transient = () => new FroctalError("FROCTAL_E_TRANSPORT", "the hypervisor did not answer");
const terminal = () => new FroctalError("FROCTAL_E_CONFIG", "no such image");

describe("Executor", () => {
  it("runs a job at once and reports its outcome", async () => {
    const { executor, outcomes, dispatch } = setup();
    let runs = 0;
    expect(dispatch("start:a", async () => void runs++)).toBe(true);
    expect(runs).toBe(1);
    expect(executor.has("start:a")).toBe(true);
    await microtasks();
    expect(outcomes).toEqual([{ key: "start:a", ok: true, attempts: 1, at: 0 }]);
    expect(executor.has("start:a")).toBe(false);
    expect(executor.stats).toEqual({ started: 1, succeeded: 1, failed: 0, retried: 0 });
  });

  it("never runs a key twice while it is in flight; runs it again once reported", async () => {
    const { executor, outcomes, dispatch } = setup();
    const d = deferred();
    let runs = 0;
    const job = () => {
      runs++;
      return d.promise;
    };
    expect(dispatch("k", job)).toBe(true);
    expect(dispatch("k", job)).toBe(false);
    expect([...executor.keys]).toEqual(["k"]);
    d.resolve();
    await microtasks();
    expect(outcomes).toHaveLength(1);
    expect(dispatch("k", async () => void runs++)).toBe(true);
    expect(runs).toBe(2);
  });

  it("runs at most `concurrency` jobs at once, the rest in dispatch order", async () => {
    const { executor, outcomes, dispatch } = setup({ concurrency: 2 });
    const gates = new Map<string, Deferred>();
    const started: string[] = [];
    for (const key of ["a", "b", "c", "d"]) {
      const d = deferred();
      gates.set(key, d);
      dispatch(key, () => {
        started.push(key);
        return d.promise;
      });
    }
    expect(started).toEqual(["a", "b"]);
    gates.get("b")!.resolve();
    await microtasks();
    expect(started).toEqual(["a", "b", "c"]);
    gates.get("a")!.resolve();
    await microtasks();
    expect(started).toEqual(["a", "b", "c", "d"]);
    gates.get("c")!.resolve();
    gates.get("d")!.resolve();
    await microtasks();
    expect(outcomes.map((o) => o.key)).toEqual(["b", "a", "c", "d"]);
    expect(executor.keys.size).toBe(0);
  });

  it("retries a retryable FroctalError with capped exponential backoff on the clock", async () => {
    const { clock, executor, outcomes, dispatch } = setup({ backoffMs: 100, maxBackoffMs: 300, maxAttempts: 5 });
    const attemptsAt: number[] = [];
    dispatch("k", async () => {
      attemptsAt.push(clock.now());
      if (attemptsAt.length < 5) throw transient();
    });
    for (let i = 0; i < 20; i++) {
      await microtasks();
      clock.advance(50);
    }
    expect(attemptsAt).toEqual([0, 100, 300, 600, 900]);
    expect(outcomes).toEqual([{ key: "k", ok: true, attempts: 5, at: 900 }]);
    expect(executor.stats).toMatchObject({ started: 5, succeeded: 1, retried: 4, failed: 0 });
  });

  it("gives up after maxAttempts and reports the last error", async () => {
    const { clock, executor, outcomes, dispatch } = setup({ maxAttempts: 3, backoffMs: 10 });
    let runs = 0;
    dispatch("k", async () => {
      runs++;
      throw transient();
    });
    for (let i = 0; i < 10; i++) {
      await microtasks();
      clock.advance(10);
    }
    expect(runs).toBe(3);
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ key: "k", ok: false, attempts: 3 });
    expect(outcomes[0]!.error?.code).toBe("FROCTAL_E_TRANSPORT");
    expect(executor.has("k")).toBe(false);
  });

  it("does not retry a terminal error, nor a plain Error (normalised to FROCTAL_E_INTERNAL)", async () => {
    const { clock, outcomes, dispatch } = setup();
    dispatch("a", async () => {
      throw terminal();
    });
    dispatch("b", () => {
      throw new Error("boom"); // thrown before any promise exists
    });
    await microtasks();
    clock.advance(60_000);
    await microtasks();
    outcomes.sort((x, y) => x.key.localeCompare(y.key));
    expect(outcomes.map((o) => [o.key, o.ok, o.attempts, o.error?.code])).toEqual([
      ["a", false, 1, "FROCTAL_E_CONFIG"],
      ["b", false, 1, "FROCTAL_E_INTERNAL"],
    ]);
    expect(outcomes[1]!.error?.message).toBe("FROCTAL_E_INTERNAL: boom");
  });

  it("frees the slot while a job waits out its backoff", async () => {
    const { clock, dispatch } = setup({ concurrency: 1, backoffMs: 1_000 });
    const started: string[] = [];
    dispatch("flaky", async () => {
      started.push("flaky");
      if (started.length === 1) throw transient();
    });
    dispatch("other", async () => void started.push("other"));
    await microtasks();
    expect(started).toEqual(["flaky", "other"]);
    clock.advance(1_000);
    await microtasks();
    expect(started).toEqual(["flaky", "other", "flaky"]);
  });

  it("counts an attempt that takes too long as a retryable timeout", async () => {
    const { clock, outcomes, dispatch } = setup({ attemptTimeoutMs: 1_000, backoffMs: 100, maxAttempts: 2 });
    let runs = 0;
    dispatch("slow", () => {
      runs++;
      return new Promise<void>(() => {});
    });
    clock.advance(1_000);
    await microtasks();
    clock.advance(100);
    await microtasks();
    expect(runs).toBe(2);
    clock.advance(1_000);
    await microtasks();
    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ ok: false, attempts: 2, at: 2_100 });
    expect(outcomes[0]!.error?.code).toBe("FROCTAL_E_TIMEOUT");
    expect(clock.pending).toBe(0);
  });

  it("after close: takes no new work, drops queued work and retries, still reports running work", async () => {
    const { clock, executor, outcomes, dispatch } = setup({ concurrency: 1 });
    const d = deferred();
    let queuedRan = false;
    dispatch("running", () => d.promise);
    dispatch("queued", async () => {
      queuedRan = true;
    });
    executor.close();
    expect(dispatch("late", async () => {})).toBe(false);
    d.reject(transient());
    await microtasks();
    clock.runAll();
    await microtasks();
    expect(queuedRan).toBe(false);
    expect(outcomes.map((o) => [o.key, o.ok])).toEqual([["running", false]]);
  });
});

describe("Executor: in flight until settled", () => {
  it("counts settled actions by kind and outcome when told how to read a kind", async () => {
    const { executor, dispatch } = setup({ kindOf: (job) => job.key.split(":")[0]!, maxAttempts: 1 });
    dispatch("start:a", async () => {});
    dispatch("start:b", () => Promise.reject(terminal()));
    dispatch("stop:a", async () => {});
    await microtasks();
    expect(executor.outcomes).toEqual({ start: { succeeded: 1, failed: 1 }, stop: { succeeded: 1, failed: 0 } });
    // Without kindOf nothing is counted by kind (the totals still are).
    const plain = setup();
    plain.dispatch("start:a", async () => {});
    await microtasks();
    expect(plain.executor.outcomes).toEqual({});
    expect(plain.executor.stats.succeeded).toBe(1);
  });

  it("keeps a reported action's key in flight until the tick settles it, so a plan cannot repeat it meanwhile", async () => {
    const { executor, outcomes, dispatch } = setup({ settle: false });
    let runs = 0;
    const job = { key: "stop:web-1", run: async () => void runs++ };
    expect(executor.dispatch(job)).toBe(true);
    await microtasks();
    expect(outcomes.map((o) => [o.key, o.ok])).toEqual([["stop:web-1", true]]);
    expect([...executor.inFlight]).toEqual(["stop:web-1"]);
    expect(dispatch("stop:web-1", async () => void runs++)).toBe(false);
    executor.settle(job);
    expect(executor.inFlight.size).toBe(0);
    expect(dispatch("stop:web-1", async () => void runs++)).toBe(true);
    expect(runs).toBe(2);
  });
});
