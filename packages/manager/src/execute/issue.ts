/**
 * Issues a plan's actions: records each intent in the store in the same
 * action (a requested instance, draining, stopping), journals it, arms its
 * deadline, and hands the action to the executor, the one door to the world.
 * The plan's actions are dispatched as they are: the keys planned are the
 * keys in flight.
 */
import type { Clock } from "@froctal/primitives";
import { entryFor, type JournalEntry } from "../journal.js";
import type { FleetSpec } from "../policy/fleet.js";
import type { Action } from "../reconcile/action.js";
import type { NetworkParty } from "../rollout/network.js";
import type { FleetStore } from "../store/store.js";
import type { Timers } from "../tick/timers.js";
import type { Executor } from "./executor.js";
import { timeoutsOf } from "./timeouts.js";

export interface IssuerOptions {
  readonly store: FleetStore;
  readonly fleet: FleetSpec;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly executor: Executor<Action>;
  readonly token: () => string;
  readonly journal: (entry: JournalEntry) => void;
  /** The network, when the fleet has a network driver: a drain frame waits until it no longer carries the instance. */
  readonly network: NetworkParty | undefined;
}

/** Issues actions. Call inside an action (the plan effect wraps it in one). */
export function issue(o: IssuerOptions, actions: readonly Action[]): void {
  const now = o.clock.now();
  const at = o.clock.wallNow();
  for (const a of actions) {
    switch (a.kind) {
      case "start": {
        const service = o.store.service(a.service);
        const instance = o.store.add(service, o.token(), now, { id: a.instanceId, ordinal: a.ordinal });
        o.journal(entryFor(at, "start", instance, `starting ${instance.id}: ${a.reason}`));
        o.timers.deadline(instance, "start", timeoutsOf(o.fleet, a.service).startTimeoutMs);
        o.executor.dispatch(a);
        break;
      }
      case "drain": {
        const instance = o.store.instance(a.instanceId);
        if (instance === undefined || instance.drainSent) break;
        if (instance.phase !== "draining") {
          if (!instance.moveTo("draining")) break;
          o.journal(entryFor(at, "drain", instance, `draining ${instance.id}: ${a.reason}`));
          if (instance.session === undefined) {
            instance.drained = true; // nobody to drain: nothing in flight to finish
            break;
          }
          // Whether the frame goes out now, after the network let go of it, or after retries, the deadline holds.
          o.timers.deadline(instance, "drain", timeoutsOf(o.fleet, a.service).drainTimeoutMs);
        }
        // No new connection may reach a draining guest: its frame waits for a network generation without it (the
        // plan asks again once one committed: PlannedInstance.drainDue).
        if (o.network?.carries(instance.id)) break;
        instance.drainSent = true;
        o.executor.dispatch(a);
        break;
      }
      case "stop": {
        const instance = o.store.instance(a.instanceId);
        if (instance === undefined) break;
        if (instance.phase !== "failed") instance.moveTo("stopping");
        o.journal(entryFor(at, "stop", instance, `stopping ${instance.id}: ${a.reason}`));
        o.executor.dispatch(a);
        break;
      }
    }
  }
}
