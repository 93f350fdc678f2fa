import type { Disposer } from "./clock.js";

/**
 * A set of callbacks for one kind of notification. A listener that throws
 * cannot break the agent or the listeners after it: its error is dropped here,
 * because reporting it through the agent's own error listeners could loop.
 */
export class Listeners<T> {
  private readonly fns = new Set<(value: T) => void>();

  add(fn: (value: T) => void): Disposer {
    // A wrapper makes each registration distinct, so disposing one never removes another.
    const entry = (value: T) => fn(value);
    this.fns.add(entry);
    return () => {
      this.fns.delete(entry);
    };
  }

  emit(value: T): void {
    for (const fn of [...this.fns]) {
      try {
        fn(value);
      } catch {
        // See the class comment.
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
