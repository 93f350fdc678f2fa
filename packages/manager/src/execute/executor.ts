/**
 * Runs side effects for the reconciler, and is the one owner of work in
 * flight: keyed (an action whose key is in flight is never run twice; the key
 * stays in flight until its outcome has been applied by a tick, `settle`),
 * bounded (at most `concurrency` at once, the rest queued in order), retried
 * with capped exponential backoff while the error says it is retryable, and
 * every outcome reported back with its action so it re-enters the store as a
 * tick input. Timers go through the injected clock.
 */

import type { Clock, Disposer } from "@froctal/primitives";
import { type FroctalError, toFroctalError } from "@froctal/protocol";
import { type ObservableSet, observable } from "mobx";

export interface Outcome<A> {
  readonly action: A;
  readonly ok: boolean;
  readonly attempts: number;
  readonly error?: FroctalError;
}

export interface ExecutorOptions<A> {
  readonly clock: Clock;
  /** The key an action is known by while in flight (built in one place, never parsed). */
  readonly keyOf: (action: A) => string;
  /** The kind an action is counted under in `outcomes` (for /metrics); uncounted unless given. */
  readonly kindOf?: (action: A) => string;
  /** Does the action in the world: one attempt. */
  readonly perform: (action: A) => Promise<void>;
  readonly report: (outcome: Outcome<A>) => void;
  readonly concurrency?: number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Longest a single attempt may take before it counts as a retryable timeout, ms. */
  readonly attemptTimeoutMs?: number;
}

interface Job<A> {
  readonly action: A;
  attempts: number;
}

export class Executor<A> {
  /** Keys issued and not yet settled: observable, so a plan recomputes when one is settled. */
  private readonly flight: ObservableSet<string> = observable.set<string>([], { deep: false });
  /** Jobs waiting for a slot, oldest first from `head` (no shift(): a long queue must not cost O(n) a job). */
  private queue: Job<A>[] = [];
  private head = 0;
  private readonly timers = new Set<Disposer>();
  private running = 0;
  private closed = false;
  readonly stats = { started: 0, succeeded: 0, failed: 0, retried: 0 };
  /** Settled actions by kind (options.kindOf): a handful of kinds; a plain object, so /status shows it as JSON. */
  readonly outcomes: Record<string, { succeeded: number; failed: number }> = {};

  constructor(private readonly options: ExecutorOptions<A>) {}

  /** Keys issued and not yet settled (the plan reads this set: tracked). */
  get inFlight(): ReadonlySet<string> {
    return this.flight;
  }

  /** A copy of the keys in flight. */
  get keys(): ReadonlySet<string> {
    return new Set(this.flight);
  }

  has(key: string): boolean {
    return this.flight.has(key);
  }

  /** Queues an action; returns false if its key is already in flight. Call inside an action. */
  dispatch(action: A): boolean {
    const key = this.options.keyOf(action);
    if (this.closed || this.flight.has(key)) return false;
    const job: Job<A> = { action, attempts: 0 };
    this.flight.add(key);
    this.queue.push(job);
    this.pump();
    return true;
  }

  /** The outcome of this action was applied: its key is no longer in flight. Call inside the tick. */
  settle(action: A): void {
    this.flight.delete(this.options.keyOf(action));
  }

  /** Stops starting new work; work already running finishes and is reported. */
  close(): void {
    this.closed = true;
    for (const dispose of this.timers) dispose();
    this.timers.clear();
    this.queue = [];
    this.head = 0;
  }

  private pump(): void {
    const limit = this.options.concurrency ?? 8;
    while (this.running < limit && this.head < this.queue.length) {
      const job = this.queue[this.head++]!;
      // A drained queue lets go of its jobs (and the actions they hold) at once.
      if (this.head === this.queue.length) {
        this.queue = [];
        this.head = 0;
      } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
        this.queue = this.queue.slice(this.head);
        this.head = 0;
      }
      this.running++;
      this.stats.started++;
      void this.attempt(job).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async attempt(job: Job<A>): Promise<void> {
    job.attempts++;
    try {
      await this.withTimeout(this.options.perform(job.action));
      this.finish(job, undefined);
    } catch (cause) {
      const error = toFroctalError(cause);
      const max = this.options.maxAttempts ?? 5;
      if (error.retryable && job.attempts < max && !this.closed) {
        this.stats.retried++;
        const base = this.options.backoffMs ?? 100;
        const delay = Math.min(this.options.maxBackoffMs ?? 10_000, base * 2 ** (job.attempts - 1));
        const dispose = this.options.clock.setTimeout(() => {
          this.timers.delete(dispose);
          this.queue.push(job);
          this.pump();
        }, delay);
        this.timers.add(dispose);
        return;
      }
      this.finish(job, error);
    }
  }

  private finish(job: Job<A>, error: FroctalError | undefined): void {
    if (error === undefined) this.stats.succeeded++;
    else this.stats.failed++;
    const kind = this.options.kindOf?.(job.action);
    if (kind !== undefined) {
      this.outcomes[kind] ??= { succeeded: 0, failed: 0 };
      const counts = this.outcomes[kind];
      if (error === undefined) counts.succeeded++;
      else counts.failed++;
    }
    this.options.report({
      action: job.action,
      ok: error === undefined,
      attempts: job.attempts,
      ...(error ? { error } : {}),
    });
  }

  private withTimeout(work: Promise<void>): Promise<void> {
    const ms = this.options.attemptTimeoutMs ?? 60_000;
    return new Promise<void>((resolve, reject) => {
      const dispose = this.options.clock.setTimeout(() => {
        reject(toFroctalError(new Error(`an action took longer than ${ms} ms`), "FROCTAL_E_TIMEOUT"));
      }, ms);
      work.then(
        () => {
          dispose();
          resolve();
        },
        (e: unknown) => {
          dispose();
          reject(e);
        },
      );
    });
  }
}
