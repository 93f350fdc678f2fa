/**
 * The one place a group of subscriptions (timers, listeners, endpoints) is
 * released: everything a connection or the server acquires goes in here, so
 * closing cannot forget one.
 */
import type { Disposer } from "./clock.js";

export const noop: Disposer = () => {};

export class Disposables {
  private readonly held = new Set<Disposer>();
  private disposed = false;

  /** Holds `dispose` until dispose(); the returned disposer releases it early. Adding after dispose() releases at once. */
  add(dispose: Disposer): Disposer {
    if (this.disposed) {
      dispose();
      return noop;
    }
    let live = true;
    const release = () => {
      if (!live) return;
      live = false;
      this.held.delete(release);
      dispose();
    };
    this.held.add(release);
    return release;
  }

  /** Releases everything held; later additions are released as they come. */
  dispose(): void {
    this.disposed = true;
    for (const release of [...this.held]) release();
  }
}

/** Subscribes to a Node event emitter and returns the unsubscribe. */
export function listen<A extends unknown[]>(
  emitter: {
    on(event: string, fn: (...args: A) => void): unknown;
    off(event: string, fn: (...args: A) => void): unknown;
  },
  event: string,
  fn: (...args: A) => void,
): Disposer {
  emitter.on(event, fn);
  return () => {
    emitter.off(event, fn);
  };
}
