/**
 * A set of callbacks for one kind of notification, with the two rules every
 * emitter here needs: a listener disposed (even by an earlier listener, during
 * the same emit) hears no more, and a listener that throws stops neither the
 * others nor the emitter: its error surfaces on its own, as an uncaught error
 * in a later microtask, unless an onError is given.
 */
import type { Disposer } from "./clock.js";

const later = (globalThis as unknown as { queueMicrotask(fn: () => void): void }).queueMicrotask;

/** Surfaces an error on its own, as an uncaught error in a later microtask, away from the code that caught it. */
export function rethrowLater(error: unknown): void {
  later(() => {
    throw error;
  });
}

/** Runs someone else's callback: if it throws, the caller carries on and the error surfaces on its own. */
export function isolate(call: () => void): void {
  try {
    call();
  } catch (error) {
    rethrowLater(error);
  }
}

export class Listeners<T> {
  private readonly fns = new Set<(value: T) => void>();

  constructor(private readonly onError: (error: unknown) => void = rethrowLater) {}

  /** Adds a listener; the disposer removes exactly this registration. */
  add(fn: (value: T) => void): Disposer {
    const entry = (value: T) => fn(value); // distinct per registration
    this.fns.add(entry);
    return () => {
      this.fns.delete(entry);
    };
  }

  emit(value: T): void {
    for (const fn of [...this.fns]) {
      if (!this.fns.has(fn)) continue;
      try {
        fn(value);
      } catch (error) {
        this.onError(error);
      }
    }
  }

  get size(): number {
    return this.fns.size;
  }

  clear(): void {
    this.fns.clear();
  }
}
