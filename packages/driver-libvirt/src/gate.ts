import type { Clock } from "@froctal/manager";

/**
 * Each binding call occupies a libuv threadpool thread (4 in all, shared with
 * fs, dns and crypto) until libvirt returns. The gate admits at most `max`
 * calls at once, so a slow or stuck host can never take the whole pool. A call
 * whose caller gave up (timeout) keeps its slot until it really returns: the
 * thread is still busy, and pretending otherwise would overrun the pool.
 */
export class CallGate {
  readonly max: number;
  #running = 0;
  #peak = 0;
  readonly #queue: Waiter[] = [];

  constructor(max: number) {
    this.max = max;
  }

  /** Calls under way now, including ones whose callers timed out. */
  get running(): number {
    return this.#running;
  }

  /** The most calls ever under way at once. */
  get peak(): number {
    return this.#peak;
  }

  /**
   * Runs `call` once a slot is free. Rejects with `timeoutError()` if it has
   * not settled `timeoutMs` after run() was called, waiting time included.
   */
  run<T>(call: () => Promise<T>, clock: Clock, timeoutMs: number, timeoutError: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false;
      const settle = (outcome: () => void): void => {
        if (done) return;
        done = true;
        cancelTimer();
        outcome();
      };
      const begin = (): void => {
        this.#running += 1;
        this.#peak = Math.max(this.#peak, this.#running);
        let pending: Promise<T>;
        try {
          pending = call();
        } catch (error) {
          pending = Promise.reject(error);
        }
        pending.then(
          (value) => {
            this.#release();
            settle(() => resolve(value));
          },
          (error: unknown) => {
            this.#release();
            settle(() => reject(error));
          },
        );
      };
      const waiter: Waiter = { begin, cancelled: false };
      const cancelTimer = clock.setTimeout(() => {
        if (done) return;
        done = true;
        waiter.cancelled = true; // if still queued, it is skipped, never run
        reject(timeoutError());
      }, timeoutMs);
      if (this.#running < this.max) begin();
      else this.#queue.push(waiter);
    });
  }

  #release(): void {
    this.#running -= 1;
    // Bounded by the queue: each pass removes one waiter.
    for (let next = this.#queue.shift(); next !== undefined; next = this.#queue.shift()) {
      if (!next.cancelled) {
        next.begin();
        return;
      }
    }
  }
}

interface Waiter {
  readonly begin: () => void;
  cancelled: boolean;
}
