/**
 * Restart: reads durable state and re-adopts the instances the driver still
 * runs (same id, token, phase and committed configuration), forgets the
 * records of instances that are gone, and stops guests of this fleet it has
 * no record of (no token: they could never connect).
 */
import type { Clock } from "@froctal/primitives";
import { action } from "mobx";
import { timeoutsOf } from "../execute/timeouts.js";
import { entryFor, type JournalEntry } from "../journal.js";
import type { FleetSpec } from "../policy/fleet.js";
import type { Driver } from "../ports/driver.js";
import type { StateStore } from "../ports/state.js";
import type { Rollout } from "../rollout/rollout.js";
import type { FleetStore } from "../store/store.js";
import { ADOPTION_PATH, type Durability } from "./durability.js";

/** What restore() found: instances re-adopted, records of instances that are gone, and unknown guests stopped. */
export interface RestoreReport {
  readonly adopted: readonly string[];
  readonly forgotten: readonly string[];
  readonly orphansStopped: readonly string[];
  readonly generation: number;
}

export interface RestoreParts {
  readonly fleet: FleetSpec;
  readonly state: StateStore | undefined;
  readonly driver: Driver;
  readonly clock: Clock;
  readonly store: FleetStore;
  readonly rollout: Rollout;
  readonly durability: Durability;
  readonly journal: (entry: JournalEntry) => void;
}

export async function restore(p: RestoreParts): Promise<RestoreReport> {
  const fleet = p.fleet.name;
  const saved = p.state ? await p.state.load(fleet) : { reservedGeneration: 0, instances: [] };
  const observed = await p.driver.list(fleet);
  const running = new Set(observed.filter((o) => o.state === "running").map((o) => o.instanceId));
  const adopted: string[] = [];
  const forgotten: string[] = [];
  action(() => {
    p.rollout.resumeAfter(saved.reservedGeneration);
    p.durability.reservedGeneration = saved.reservedGeneration;
    for (const record of saved.instances) {
      const service = p.store.services.get(record.service);
      if (!running.has(record.id) || service === undefined) {
        forgotten.push(record.id);
        p.durability.forget(record.id);
        continue;
      }
      const instance = p.store.add(service, record.token, p.clock.now(), { id: record.id, ordinal: record.ordinal });
      for (const phase of ADOPTION_PATH[record.phase] ?? ["starting"]) instance.moveTo(phase);
      instance.recordCommit(record.generation, record.configJson);
      if (instance.active) service.target++;
      adopted.push(record.id);
      p.journal(entryFor(p.clock.wallNow(), "start", instance, `re-adopted ${instance.id} (${instance.phase})`));
    }
  })();
  const known = new Set(saved.instances.map((r) => r.id));
  const orphans = observed.filter((o) => !known.has(o.instanceId) && o.state !== "stopped");
  for (const o of orphans) {
    p.journal({
      at: p.clock.wallNow(),
      kind: "stop",
      service: o.service,
      instance: o.instanceId,
      message: `stopping ${o.instanceId}: this fleet has no record of it, so it could never connect`,
    });
    await p.driver.stop(o.instanceId, { graceMs: timeoutsOf(p.fleet, o.service).stopGraceMs });
  }
  p.durability.persist(p.store.takeChanged());
  return { adopted, forgotten, orphansStopped: orphans.map((o) => o.instanceId), generation: p.rollout.lastGeneration };
}
