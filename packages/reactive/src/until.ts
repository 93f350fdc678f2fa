import type { Clock, Disposer } from "@froctal/primitives";
import { FroctalError, systemClock } from "@froctal/primitives";
import { when } from "mobx";

/** A value that changes over time: anything with an observable get() (a MobX box or computed). */
export interface Behaviour<T> {
  get(): T;
}

/** The part of an AbortSignal that until() uses; the host's AbortSignal fits. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: "abort", listener: () => void): void;
  removeEventListener(type: "abort", listener: () => void): void;
}

export interface UntilOptions<T> {
  /** Which value settles the wait; any truthy value unless given. */
  readonly match?: (value: T) => boolean;
  /** Rejects with FROCTAL_E_TIMEOUT after this many ms on `clock`; no limit unless given. */
  readonly timeoutMs?: number;
  /** The clock the timeout runs on; the system clock unless given. */
  readonly clock?: Clock;
  /** Rejects with FROCTAL_E_CANCELLED when it aborts. */
  readonly signal?: AbortSignalLike;
  /** Names the wait in MobX's tools and in error sentences. */
  readonly name?: string;
}

/** A promise of a value, with a way to stop waiting (rejects with FROCTAL_E_CANCELLED). */
export interface Until<T> extends Promise<T> {
  cancel(): void;
}

/**
 * From configuration space back to the async world: a promise of the first
 * value of `source` (a behaviour, a computed, or any function reading
 * observables) that `match` accepts, checked now and after every change. Built
 * on MobX `when`, so the check runs in a reaction and stops with the wait.
 * Whatever settles it — value, timeout, cancel, abort, or a throwing read —
 * releases the reaction, the timer and the abort listener together.
 */
export function until<T>(source: Behaviour<T> | (() => T), options: UntilOptions<T> = {}): Until<T> {
  const read = typeof source === "function" ? source : () => source.get();
  const match = options.match ?? Boolean;
  const name = options.name ?? "until";
  const { timeoutMs, signal } = options;
  if (timeoutMs !== undefined && !(timeoutMs >= 0)) {
    throw new FroctalError("FROCTAL_E_CONFIG", `${name}: timeoutMs must be >= 0, got ${timeoutMs}`);
  }

  let settled = false;
  let stopReaction: Disposer | undefined;
  let stopTimer: Disposer | undefined;
  let onAbort: (() => void) | undefined;
  let resolvePromise!: (value: T) => void;
  let rejectPromise!: (error: unknown) => void;
  const promise = new Promise<T>((resolve, reject) => {
    resolvePromise = resolve;
    rejectPromise = reject;
  });

  const settle = (outcome: { ok: true; value: T } | { ok: false; error: unknown }): void => {
    if (settled) return;
    settled = true;
    stopReaction?.();
    stopTimer?.();
    if (onAbort !== undefined) signal?.removeEventListener("abort", onAbort);
    if (outcome.ok) resolvePromise(outcome.value);
    else rejectPromise(outcome.error);
  };
  const cancelled = (cause: unknown): void =>
    settle({
      ok: false,
      error: new FroctalError("FROCTAL_E_CANCELLED", `${name} was cancelled before it held`, { cause }),
    });

  if (signal?.aborted === true) {
    cancelled(signal.reason);
  } else {
    let hit: { value: T } | undefined;
    const stop = when(
      () => {
        const value = read();
        if (!match(value)) return false;
        hit = { value };
        return true;
      },
      () => settle({ ok: true, value: hit!.value }),
      { name, onError: (error: unknown) => settle({ ok: false, error }) },
    );
    // when() may have settled synchronously, before `stop` existed to be called.
    if (settled) stop();
    else stopReaction = stop;
  }
  if (!settled && signal !== undefined) {
    onAbort = () => cancelled(signal.reason);
    signal.addEventListener("abort", onAbort);
  }
  if (!settled && timeoutMs !== undefined) {
    stopTimer = (options.clock ?? systemClock).setTimeout(
      () =>
        settle({
          ok: false,
          error: new FroctalError("FROCTAL_E_TIMEOUT", `${name} did not hold within ${timeoutMs} ms`),
        }),
      timeoutMs,
    );
  }

  return Object.assign(promise, { cancel: () => cancelled(undefined) });
}
