import type { Disposer } from "@froctal/primitives";

export type Listener<T> = (value: T) => void;

/** Anything that pushes values to listeners: an event stream, or your own. */
export interface Subscribable<T> {
  /** Calls `listener` with each value from now on; the disposer stops that. */
  subscribe(listener: Listener<T>): Disposer;
}

/** How an event stream ended. */
export type StreamEnd =
  | { readonly reason: "done" }
  | { readonly reason: "disposed" }
  | { readonly reason: "error"; readonly error: unknown };

/** Discrete events from the data space, pushed to listeners as they arrive. */
export interface EventStream<T> extends Subscribable<T> {
  /** Settles once with how the stream ended; never rejects, so nobody has to catch it. */
  readonly ended: Promise<StreamEnd>;
  /** Stops pulling from the source and calls its iterator's return(); calling it twice is harmless. */
  dispose(): void;
}

/**
 * Turns any async source (an async generator, a socket's message iterator)
 * into an event stream.
 *
 * The source is pulled only while someone listens: pulling starts with the
 * first subscriber, and while nobody listens no next() is requested, so a
 * source that supports it feels backpressure and no value is delivered to
 * nobody. Each value goes to the current listeners, in subscription order,
 * synchronously. The stream ends when the source finishes ("done"), when the
 * source or a listener throws ("error"; a throwing listener is a bug, so the
 * source is released rather than fed to the others) or on dispose()
 * ("disposed"). An async generator parked in an await finishes its return()
 * only when that await settles: that is the language's rule, not ours.
 */
export function absorb<T>(source: AsyncIterable<T>): EventStream<T> {
  const iterator = source[Symbol.asyncIterator]();
  // Replaced, never mutated, so delivery can walk it while listeners come and go.
  let listeners: readonly Subscription<T>[] = [];
  let started = false;
  let finished = false;
  let wake: (() => void) | undefined;
  let resolveEnded!: (end: StreamEnd) => void;
  const ended = new Promise<StreamEnd>((resolve) => {
    resolveEnded = resolve;
  });

  const finish = (end: StreamEnd, releaseSource: boolean): void => {
    if (finished) return;
    finished = true;
    listeners = [];
    if (releaseSource) release(iterator);
    wake?.();
    resolveEnded(end);
  };

  const someoneListens = (): Promise<void> | undefined =>
    listeners.length > 0 || finished
      ? undefined
      : new Promise<void>((resolve) => {
          wake = resolve;
        });

  const pull = async (): Promise<void> => {
    // Bounded by the source: one next() per value, and no next() while nobody listens.
    while (!finished) {
      let step: IteratorResult<T>;
      try {
        step = await iterator.next();
      } catch (error) {
        finish({ reason: "error", error }, false);
        return;
      }
      if (finished) return; // disposed while waiting: the value is for nobody
      if (step.done === true) {
        finish({ reason: "done" }, false);
        return;
      }
      // The last listener may have left while next() was pending: keep the value for the next one.
      let waiting = someoneListens();
      if (waiting !== undefined) await waiting;
      const current = listeners;
      for (let i = 0; i < current.length && !finished; i++) {
        const subscription = current[i]!;
        if (!subscription.active) continue; // unsubscribed by an earlier listener of this value
        try {
          subscription.listener(step.value);
        } catch (error) {
          finish({ reason: "error", error }, true);
          return;
        }
      }
      waiting = someoneListens();
      if (waiting !== undefined) await waiting;
    }
  };

  return {
    ended,
    subscribe(listener: Listener<T>): Disposer {
      if (finished) return () => {};
      const subscription: Subscription<T> = { listener, active: true };
      listeners = [...listeners, subscription];
      if (!started) {
        started = true;
        void pull();
      } else if (wake !== undefined) {
        const resume = wake;
        wake = undefined;
        resume();
      }
      return () => {
        if (!subscription.active) return;
        subscription.active = false;
        listeners = listeners.filter((s) => s !== subscription);
      };
    },
    dispose(): void {
      finish({ reason: "disposed" }, true);
    },
  };
}

interface Subscription<T> {
  readonly listener: Listener<T>;
  active: boolean;
}

/** Asks the source to clean up; its answer, even an error, has nowhere useful to go. */
function release(iterator: AsyncIterator<unknown>): void {
  try {
    const result = iterator.return?.();
    if (result !== undefined) result.then(undefined, () => {});
  } catch {
    // A synchronous throw from return() is as unreportable as an async one.
  }
}
