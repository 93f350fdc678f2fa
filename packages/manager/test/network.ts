/**
 * A network driver for the core's unit tests: it records each step and lets
 * the test answer it (resolve or reject), so the rollout's handling of the
 * network is exercised without a switch. The Open vSwitch driver itself is
 * tested on a real one (packages/network-ovs, tools/e2e).
 */
import type { NetworkSpec } from "../src/policy/fleet.js";
import type { NetworkDriver } from "../src/ports/network.js";

type Step = "prepare" | "commit" | "abort";

interface Call {
  readonly step: Step;
  readonly generation: number;
  readonly desired?: NetworkSpec;
}

export class ScriptedNetwork implements NetworkDriver {
  readonly description = "scripted network";
  readonly calls: Call[] = [];
  /** The state last committed, as the switch would run it. */
  running: NetworkSpec | undefined;
  private readonly staged = new Map<number, NetworkSpec>();
  private readonly waiting: { step: Step; settle: (error?: Error) => void }[] = [];
  /** True: every prepare and commit succeeds at once (but those refuse() queued); false: each waits for answer(). */
  auto = false;
  private readonly refusals: { step: Step; reason: string }[] = [];

  /** With auto: the next `step` is refused with `reason`, at once. */
  refuse(step: Step, reason: string): void {
    this.refusals.push({ step, reason });
  }

  prepare(generation: number, desired: NetworkSpec): Promise<void> {
    this.calls.push({ step: "prepare", generation, desired });
    return this.wait("prepare", () => this.staged.set(generation, desired));
  }

  commit(generation: number): Promise<void> {
    this.calls.push({ step: "commit", generation });
    return this.wait("commit", () => {
      this.running = this.staged.get(generation);
      this.staged.delete(generation);
    });
  }

  abort(generation: number): void {
    this.calls.push({ step: "abort", generation });
    this.staged.delete(generation);
  }

  /** Answers the oldest unanswered step: done, or refused with `error`. */
  answer(step: Step, error?: Error): void {
    const i = this.waiting.findIndex((w) => w.step === step);
    if (i < 0) throw new Error(`no ${step} waits for an answer`);
    this.waiting.splice(i, 1)[0]!.settle(error);
  }

  /** The steps taken, as "prepare 1", "commit 1", ... */
  get steps(): string[] {
    return this.calls.map((c) => `${c.step} ${c.generation}`);
  }

  private wait(step: Step, done: () => void): Promise<void> {
    if (this.auto) {
      const refusal = this.refusals.findIndex((r) => r.step === step);
      if (refusal >= 0) return Promise.reject(new Error(this.refusals.splice(refusal, 1)[0]!.reason));
      done();
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.waiting.push({
        step,
        settle: (error) => {
          if (error === undefined) {
            done();
            resolve();
          } else reject(error);
        },
      });
    });
  }
}
