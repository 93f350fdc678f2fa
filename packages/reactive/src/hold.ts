import { action, comparer, type IEqualsComparer, observable } from "mobx";
import type { Subscribable } from "./absorb.js";

/** A value over time that MobX tracks: read it in a computed, reaction or autorun. */
export interface Behaviour<T> {
  get(): T;
}

/** A behaviour held from a stream; dispose() stops following the stream and keeps the last value. */
export interface Held<T> extends Behaviour<T> {
  dispose(): void;
}

export interface HoldOptions<T> {
  /** Shown by MobX's debugging tools. */
  readonly name?: string;
  /** When a new event counts as no change (no reaction runs); MobX's default comparer unless given. */
  readonly equals?: IEqualsComparer<T>;
}

/**
 * The behaviour that holds the latest event of `stream`, `initial` before the
 * first. Each event is written in its own MobX action, so reactions run once per
 * event; for many events a second, put them through a ticker instead. Values
 * are stored as given (a shallow box), never made deeply observable.
 */
export function hold<T>(stream: Subscribable<T>, initial: T, options: HoldOptions<T> = {}): Held<T> {
  const name = options.name ?? "hold";
  const box = observable.box(initial, { name, deep: false, equals: options.equals ?? comparer.default });
  const set = action(`${name}.set`, (value: T) => box.set(value));
  const stop = stream.subscribe(set);
  return {
    get: () => box.get(),
    dispose: stop,
  };
}
