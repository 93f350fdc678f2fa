import type { Disposer } from "@froctal/primitives";
import { type IEqualsComparer, reaction } from "mobx";

export interface EffectOptions<T> {
  /** Where a throwing `read` or `run` goes; required, because a side effect that fails must be seen. */
  readonly onError: (error: unknown) => void;
  /** When a new value of `read` counts as no change; MobX's default comparer unless given. */
  readonly equals?: IEqualsComparer<T>;
  /** Also run once now, with the current value; otherwise only on changes. */
  readonly fireImmediately?: boolean;
  /** Names the reaction in MobX's tools. */
  readonly name?: string;
}

/**
 * The one door from the store to the outside world: `run` gets the value of
 * `read` each time it changes. `read` is tracked and must be pure; `run` is
 * not tracked, runs after the action that changed the value has ended, and may
 * do I/O or push to a ticker (which lands in the next tick). Under a ticker
 * every tick is one action, so `run` runs at most once per tick. A MobX
 * reaction with its errors routed to `onError` instead of the console.
 */
export function effect<T>(read: () => T, run: (value: T) => void, options: EffectOptions<T>): Disposer {
  const { onError, equals, fireImmediately, name } = options;
  return reaction(read, (value) => run(value), {
    onError,
    ...(equals === undefined ? {} : { equals }),
    fireImmediately: fireImmediately === true,
    name: name ?? "effect",
  });
}
