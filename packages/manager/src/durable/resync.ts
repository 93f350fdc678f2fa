/**
 * After a restart, the adopted guests' facts (load, endpoints, devices) are
 * not in the store until each guest reconnects and re-announces them (the
 * agent does when a manager answers its stream with acked_seq 0). Until then
 * a policy would decide on a partial picture: scale in on load it has not
 * heard yet, hand a load balancer a backend list without the guests that
 * serve. So the manager holds scale-in and new rollouts until every adopted
 * instance has sent a batch on a new session (or is gone), or `resyncMs`
 * passed; scale-out and everything else carry on.
 */
import { computed, observable } from "mobx";
import type { Timers } from "../tick/timers.js";

export class Resync {
  /** Plain, so the per-batch check on the ingest path costs one lookup in an empty set. */
  private readonly awaiting = new Set<string>();
  private readonly left = observable.box(0);
  private readonly expired = observable.box(false);
  /** Whether the store holds what every adopted guest re-reported (or the wait is over). Tracked. */
  readonly settled = computed(() => this.left.get() === 0 || this.expired.get());

  /** Waits for these adopted instances, for at most `ms`. Call inside an action. */
  begin(adopted: readonly string[], ms: number, timers: Timers): void {
    if (adopted.length === 0) return;
    for (const id of adopted) this.awaiting.add(id);
    this.left.set(this.awaiting.size);
    timers.run(ms, () => this.expired.set(true));
  }

  /** The instance re-reported (a batch on its new session was applied), or is gone. Call inside an action. */
  heard(instanceId: string): void {
    if (this.awaiting.size === 0 || !this.awaiting.delete(instanceId)) return;
    this.left.set(this.awaiting.size);
  }
}
