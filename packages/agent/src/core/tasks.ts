/**
 * Lifting async computations into signals: the "lift the result of a finished
 * thread into an event" of the design note (track), and a loop that consumes
 * an async source, handing every value to a callback (consume).
 *
 * consume is a pull loop with one consumer and a stop: the guest side of the
 * data space, with no MobX (the manager's FRP bridge is @froctal/reactive).
 */
import type { Disposer } from "@froctal/primitives";
import type { ExitOutcome } from "./signals.js";

/** The outcome of a settled promise, as an EXITED lifecycle result. */
export function outcomeOf(settled: PromiseSettledResult<unknown>, maxJson: number, maxText: number): ExitOutcome {
  if (settled.status === "rejected") {
    const err = settled.reason;
    const message = err instanceof Error ? err.message || err.name : String(err);
    const exitCode = (err as { exitCode?: unknown } | null)?.exitCode;
    return {
      ok: false,
      code: typeof exitCode === "number" && Number.isInteger(exitCode) ? exitCode : 1,
      error: (message || "failed").slice(0, maxText),
    };
  }
  let json: string | undefined;
  try {
    json = JSON.stringify(settled.value);
  } catch (err) {
    json = undefined;
    // The contract has no field for "value not reported"; the reason rides in `error` while `ok` stays true.
    return { ok: true, error: `the result is not JSON (${err instanceof Error ? err.message : String(err)})` };
  }
  if (json !== undefined && json.length > maxJson) {
    return { ok: true, error: `the result is ${json.length} characters of JSON, over the limit of ${maxJson}` };
  }
  return { ok: true, valueJson: json ?? "" };
}

/** A running consume loop: call it to stop; `done` settles when the source ends, fails or is stopped. */
export type Consumer = Disposer & { readonly done: Promise<void> };

/**
 * Pulls `source` and passes each value to `fn` until the source ends or the
 * returned disposer is called. If the source or `fn` throws, the loop stops,
 * the source is closed, `onError` hears about it and `done` rejects.
 */
export function consume<T>(
  source: AsyncIterable<T>,
  fn: (value: T) => void,
  onError: (err: unknown) => void,
): Consumer {
  const iterator = source[Symbol.asyncIterator]();
  let stopped = false;
  let settle!: (err?: unknown) => void;
  const done = new Promise<void>((resolve, reject) => {
    settle = (err?: unknown) => (err === undefined ? resolve() : reject(err));
  });
  // Whoever does not await `done` hears of failures through onError, not as an unhandled rejection.
  done.catch(() => {});

  const stop = (err?: unknown) => {
    if (stopped) return;
    stopped = true;
    // Not awaited: return() on a generator parked in await only runs once that await settles.
    Promise.resolve()
      .then(() => iterator.return?.())
      .catch(() => {});
    if (err !== undefined) onError(err);
    settle(err);
  };

  (async () => {
    for (;;) {
      let step: IteratorResult<T>;
      try {
        step = await iterator.next();
      } catch (err) {
        if (stopped) return;
        stopped = true;
        onError(err);
        return settle(err ?? new Error("the source failed"));
      }
      if (stopped) return;
      if (step.done) {
        stopped = true;
        return settle();
      }
      try {
        fn(step.value);
      } catch (err) {
        return stop(err ?? new Error("the callback failed"));
      }
    }
  })();

  return Object.assign(() => stop(), { done });
}
