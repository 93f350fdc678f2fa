/**
 * The plan of the whole fleet, read inside the plan effect (so it is tracked):
 * each service's plan input is built from the store in O(1) at target (the
 * active count and the attention set are kept as phases change; the active
 * list is only asked for when some must go), and new instances' ordinals are
 * threaded across services so no two starts get the same id.
 */
import { untracked } from "mobx";
import type { Instance } from "../store/instance.js";
import type { FleetStore } from "../store/store.js";
import type { Action } from "./action.js";
import { type PlannedInstance, plan } from "./plan.js";

export interface FleetPlanInput {
  readonly store: FleetStore;
  /** Keys in flight: the executor's own set. */
  readonly inFlight: ReadonlySet<string>;
  /** Whether starts of a service are held back now. */
  readonly holdStarts: (service: string) => boolean;
  /** Whether no guest waits for a configuration generation (see PlanInput.configSettled). */
  readonly configSettled: () => boolean;
  /** Whether a draining instance's held frame may go now (see PlannedInstance.drainDue); default never. */
  readonly drainDue?: (instance: Instance) => boolean;
  /** A service whose plan threw: reported, and the other services are planned all the same. */
  readonly onError: (service: string, error: unknown) => void;
}

export function planFleet(input: FleetPlanInput): Action[] {
  const actions: Action[] = [];
  let nextOrdinal = input.store.nextOrdinal;
  for (const service of input.store.services.values()) {
    try {
      const loadMetric = service.spec.loadMetric;
      const planned = (i: Instance): PlannedInstance => ({
        id: i.id,
        phase: i.phase,
        ordinal: i.ordinal,
        // Untracked: load only ranks victims when something else changes the plan; no re-plan per sample.
        load: loadMetric === undefined ? undefined : untracked(() => i.metric(loadMetric)),
        drained: i.phase === "draining" && i.drained,
        drainExpired: i.phase === "draining" && i.drainExpired,
        drainDue: i.phase === "draining" && input.drainDue !== undefined && input.drainDue(i),
      });
      const own = plan({
        service: service.name,
        target: service.target,
        active: service.activeCount,
        attention: [...service.attention].sort((a, b) => a.ordinal - b.ordinal).map(planned),
        candidates: () => service.active.map(planned),
        inFlight: input.inFlight,
        nextOrdinal,
        holdStarts: input.holdStarts(service.name),
        configSettled: input.configSettled,
      });
      for (const a of own) {
        if (a.kind === "start") nextOrdinal = a.ordinal + 1;
        actions.push(a);
      }
    } catch (error) {
      input.onError(service.name, error);
    }
  }
  return actions;
}
