/**
 * Restart: reads durable state (the fleet's id first) and re-adopts the
 * instances the driver still runs under that id (same instance id, token,
 * phase and committed configuration), forgets the records of instances that
 * are gone, and stops guests carrying this fleet's id it has no record of (no
 * token: they could never connect). Only the id proves a guest is this
 * fleet's: guests of another fleet of the same name carry another id and are
 * not listed, and guests an earlier froctal marked with the name alone are
 * left running, each with a journal line saying why.
 */
import type { Clock } from "@froctal/primitives";
import { action } from "mobx";
import { timeoutsOf } from "../execute/timeouts.js";
import { entryFor, type JournalEntry } from "../journal.js";
import type { FleetSpec } from "../policy/fleet.js";
import type { Driver, FleetIdentity } from "../ports/driver.js";
import type { StateStore } from "../ports/state.js";
import { instanceIdOf } from "../reconcile/action.js";
import type { Rollout } from "../rollout/rollout.js";
import type { FleetStore } from "../store/store.js";
import type { Timers } from "../tick/timers.js";
import { ADOPTION_PATH, type Durability } from "./durability.js";
import type { Resync } from "./resync.js";

/** What restore() found: instances re-adopted, records of instances that are gone, and unknown guests stopped. */
export interface RestoreReport {
  /** The fleet's id: the state's, or (without a state) the one the manager made for this run. */
  readonly fleetId: string;
  readonly adopted: readonly string[];
  readonly forgotten: readonly string[];
  readonly orphansStopped: readonly string[];
  /** Guests with this fleet's name and no fleet id (an earlier froctal's): not provably ours, so left running. */
  readonly unproven: readonly string[];
  readonly generation: number;
  /** The highest instance ordinal handed out before this run: its new instances continue after it. */
  readonly lastOrdinal: number;
}

export interface RestoreParts {
  readonly fleet: FleetSpec;
  readonly state: StateStore | undefined;
  /** The fleet's id when there is no state to read it from: made by the manager for this run. */
  readonly runFleetId: string;
  readonly driver: Driver;
  readonly clock: Clock;
  readonly store: FleetStore;
  readonly rollout: Rollout;
  readonly durability: Durability;
  readonly resync: Resync;
  readonly timers: Timers;
  /** How long the manager waits for the adopted guests to re-report before it scales in or rolls out again, ms. */
  readonly resyncMs: number;
  readonly journal: (entry: JournalEntry) => void;
}

export async function restore(p: RestoreParts): Promise<RestoreReport> {
  const fleet = p.fleet.name;
  const saved = p.state
    ? await p.state.load(fleet)
    : { fleetId: p.runFleetId, reservedGeneration: 0, lastOrdinal: 0, instances: [] };
  const identity: FleetIdentity = { name: fleet, id: saved.fleetId };
  const listed = await p.driver.list(identity);
  // Only what carries this fleet's id is provably ours; a driver that lists more is not trusted with it.
  const observed = listed.filter((o) => o.fleetId === identity.id);
  const unproven = listed.filter((o) => o.fleetId === undefined && o.fleet === fleet && o.state !== "stopped");
  const running = new Set(observed.filter((o) => o.state === "running").map((o) => o.instanceId));
  const adopted: string[] = [];
  const forgotten: string[] = [];
  // Every ordinal a record holds was handed out too (a state written before the mark was kept has records only),
  // and so was that of a guest carrying this fleet's id whose mark and record were both lost (etcd writes in the
  // background: a kill can beat them): the mark is raised to cover them all before any record is forgotten.
  const lastOrdinal = Math.max(
    saved.lastOrdinal,
    ...saved.instances.map((r) => r.ordinal),
    ...observed.map((o) => ordinalOf(o.instanceId, o.service)),
  );
  action(() => {
    p.rollout.resumeAfter(saved.reservedGeneration);
    p.durability.reservedGeneration = saved.reservedGeneration;
    p.durability.reservedOrdinal = saved.lastOrdinal;
    p.durability.reserveOrdinals(lastOrdinal);
    p.store.resumeAfter(lastOrdinal);
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
    p.resync.begin(adopted, p.resyncMs, p.timers);
  })();
  for (const o of unproven) {
    p.journal({
      at: p.clock.wallNow(),
      kind: "stop",
      service: o.service,
      instance: o.instanceId,
      message:
        `not stopping ${o.instanceId}: it carries this fleet's name but no fleet id (an earlier froctal launched it), ` +
        "so it may be another fleet's; stop it by hand if it is this one's",
    });
  }
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
  return {
    fleetId: identity.id,
    adopted,
    forgotten,
    orphansStopped: orphans.map((o) => o.instanceId),
    unproven: unproven.map((o) => o.instanceId),
    generation: p.rollout.lastGeneration,
    lastOrdinal,
  };
}

/** The ordinal in an instance id the manager made (instanceIdOf); 0 for any other. */
function ordinalOf(instanceId: string, service: string): number {
  const n = Number(instanceId.slice(service.length + 1));
  return Number.isSafeInteger(n) && n > 0 && instanceIdOf(service, n) === instanceId ? n : 0;
}
