/**
 * Runs side effects for the reconciler: keyed (a key in flight is never run
 * twice), bounded (at most `concurrency` at once, the rest queued in order),
 * retried with capped exponential backoff while the error says it is
 * retryable, and every outcome reported back so it re-enters the store as a
 * signal. Timers go through the injected clock.
 */

import type { Clock, Disposer } from "@froctal/primitives";
import { type FroctalError, toFroctalError } from "@froctal/protocol";

export interface Outcome {
  readonly key: string;
  readonly ok: boolean;
  readonly attempts: number;
  readonly error?: FroctalError;
}

export interface ExecutorOptions {
  readonly clock: Clock;
  readonly report: (outcome: Outcome) => void;
  readonly concurrency?: number;
  readonly maxAttempts?: number;
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  /** Longest a single attempt may take before it counts as a retryable timeout, ms. */
  readonly attemptTimeoutMs?: number;
}

interface Job {
  readonly key: string;
  readonly run: () => Promise<void>;
  attempts: number;
}

export class Executor {
  private readonly inFlight = new Map<string, Job>();
  /** Jobs waiting for a slot, oldest first from `head` (no shift(): a long queue must not cost O(n) a job). */
  private queue: Job[] = [];
  private head = 0;
  private readonly timers = new Set<Disposer>();
  private running = 0;
  private closed = false;
  readonly stats = { started: 0, succeeded: 0, failed: 0, retried: 0 };

  constructor(private readonly options: ExecutorOptions) {}

  /** Keys issued and not yet reported. */
  get keys(): ReadonlySet<string> {
    return new Set(this.inFlight.keys());
  }

  has(key: string): boolean {
    return this.inFlight.has(key);
  }

  /** Queues `run` under `key`; returns false if that key is already in flight. */
  dispatch(key: string, run: () => Promise<void>): boolean {
    if (this.closed || this.inFlight.has(key)) return false;
    const job: Job = { key, run, attempts: 0 };
    this.inFlight.set(key, job);
    this.queue.push(job);
    this.pump();
    return true;
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
      if (this.head > 1024 && this.head * 2 > this.queue.length) {
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

  private async attempt(job: Job): Promise<void> {
    job.attempts++;
    try {
      await this.withTimeout(job.run());
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

  private finish(job: Job, error: FroctalError | undefined): void {
    this.inFlight.delete(job.key);
    if (error === undefined) this.stats.succeeded++;
    else this.stats.failed++;
    this.options.report({ key: job.key, ok: error === undefined, attempts: job.attempts, ...(error ? { error } : {}) });
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
