/**
 * Lifecycle by polling (the binding has no domain events): one round lists
 * every host that is not waiting out a reconnect backoff, a round asked for
 * while one runs joins it, and the next round is armed when one ends. A
 * failing host is reported to onPollError and never stops the others.
 */
import type { Clock, Disposer } from "@froctal/primitives";
import { FroctalError, isolate } from "@froctal/primitives";
import type { Site } from "./site.js";

export interface PollerOptions {
  readonly clock: Clock;
  readonly pollMs: number;
  readonly onPollError: ((uri: string, error: FroctalError) => void) | undefined;
  readonly sites: () => Iterable<Site>;
  /** Lists one host and absorbs what it found (the driver's own bookkeeping). */
  readonly refresh: (site: Site) => Promise<void>;
}

export class Poller {
  #round: Promise<void> | undefined;
  #cancel: Disposer | undefined;
  #stopped = false;

  constructor(private readonly o: PollerOptions) {}

  /** Arms the next round after `delayMs`; each round arms the one after it. */
  schedule(delayMs: number): void {
    if (this.#stopped) return;
    this.#cancel = this.o.clock.setTimeout(() => {
      void this.round().then(() => this.schedule(this.o.pollMs));
    }, delayMs);
  }

  /** One round over every available host (joining a round under way); never rejects. */
  round(): Promise<void> {
    if (this.#round === undefined) {
      const sites = [...this.o.sites()].filter((site) => site.host.available);
      this.#round = Promise.all(
        sites.map((site) =>
          this.o.refresh(site).catch((error: unknown) => {
            const report = this.o.onPollError;
            if (report !== undefined && error instanceof FroctalError) isolate(() => report(site.host.uri, error));
          }),
        ),
      )
        .then(() => undefined)
        .finally(() => {
          this.#round = undefined;
        });
    }
    return this.#round;
  }

  /** Arms no more rounds; resolves when the round under way, if any, has ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancel?.();
    await this.#round;
  }
}
