/**
 * Ends a guest process cleanly on a signal (what a driver's polite stop
 * sends): the guest's cleanup runs, the agent closes (flushing what it can),
 * then the process exits 0. Node-only, so it lives apart from the core.
 */
import type { Disposer } from "@froctal/primitives";

export function exitOnSignals(
  close: () => Promise<unknown>,
  cleanup: () => void | Promise<void>,
  signals: readonly NodeJS.Signals[],
): Disposer {
  let exiting = false;
  const onSignal = () => {
    if (exiting) return;
    exiting = true;
    void (async () => {
      try {
        await cleanup();
      } finally {
        await close();
        process.exit(0);
      }
    })();
  };
  for (const signal of signals) process.once(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
