/**
 * The door from the store to the driver: plans each service's actions (the
 * pure plan over O(1) inputs) and issues them, recording each intent in the
 * store in the same action (requested, draining, stopping) and each action
 * in flight by key, so the next plan repeats nothing. Drains are commands to
 * the guest, with a deadline; starts and stops go through the executor.
 */
import type { Clock, Disposer } from "@froctal/primitives";
import { observable, untracked } from "mobx";
import type { Journal } from "../journal.js";
import { entryFor } from "../journal.js";
import type { FleetSpec, ServiceSpec } from "../policy/fleet.js";
import type { Driver } from "../ports/driver.js";
import { type Action, plan } from "../reconcile/plan.js";
import type { Signal } from "../signals.js";
import type { Instance } from "../store/instance.js";
import type { Service } from "../store/service.js";
import type { FleetStore } from "../store/store.js";
import { Executor, type Outcome } from "./executor.js";

export const DEFAULT_TIMEOUTS = { drainTimeoutMs: 30_000, startTimeoutMs: 60_000, stopGraceMs: 5_000 };

export type Timeouts = Required<Pick<ServiceSpec, keyof typeof DEFAULT_TIMEOUTS>>;

export interface ActuatorOptions {
  readonly store: FleetStore;
  readonly journal: Journal;
  readonly fleet: FleetSpec;
  readonly driver: Driver;
  readonly clock: Clock;
  readonly managerUrl: string;
  readonly token: () => string;
  readonly concurrency: number;
  /** Where executor outcomes go (back into the store as signals). */
  readonly report: (outcome: Outcome) => void;
  /** Pushes a signal after `ms` (deadlines). */
  readonly after: (ms: number, signal: Signal) => Disposer;
}

export class Actuator {
  /** Keys of actions issued and not yet reported: observable so plans recompute when one finishes. */
  private readonly inFlight = observable.set<string>();
  private readonly executor: Executor;

  constructor(private readonly o: ActuatorOptions) {
    this.executor = new Executor({ clock: o.clock, concurrency: o.concurrency, report: o.report });
  }

  get stats() {
    return this.executor.stats;
  }

  /** What the service needs now; with `held`, no starts (restarts back off after failures). */
  plan(service: Service, held: boolean): Action[] {
    const loadMetric = service.spec.loadMetric;
    const planned = (i: Instance) => ({
      id: i.id,
      phase: i.phase,
      ordinal: i.ordinal,
      // Untracked: load only ranks victims when something else changes the plan; no re-plan per sample.
      load: loadMetric === undefined ? undefined : untracked(() => i.metric(loadMetric)),
      drained: i.phase === "draining" && i.drained,
      drainExpired: i.phase === "draining" && i.drainExpired,
    });
    const actions = plan({
      service: service.name,
      target: service.target,
      active: service.activeCount,
      attention: [...service.attention].sort((a, b) => a.ordinal - b.ordinal).map(planned),
      candidates: () => service.active.map(planned),
      inFlight: this.inFlight,
    });
    return held ? actions.filter((a) => a.kind !== "start") : actions;
  }

  /** Issues a plan's actions. Call inside an action. */
  issue(actions: readonly Action[]): void {
    const now = this.o.clock.now();
    for (const a of actions) {
      switch (a.kind) {
        case "start":
          this.launch(this.o.store.service(a.service), a.reason, now);
          break;
        case "drain": {
          const instance = this.o.store.instance(a.instanceId);
          if (instance === undefined || !instance.moveTo("draining")) break;
          const deadline = this.timeouts(instance).drainTimeoutMs;
          this.o.journal.write(entryFor(now, "drain", instance, `draining ${instance.id}: ${a.reason}`));
          const sent = instance.session?.send({ drain: { deadlineMs: deadline, reason: a.reason } }) ?? false;
          if (!sent)
            instance.drained = true; // nobody to drain: nothing in flight to finish
          else this.o.after(deadline, { kind: "expired", instance, what: "drain" });
          break;
        }
        case "stop": {
          const instance = this.o.store.instance(a.instanceId);
          if (instance === undefined) break;
          if (instance.phase !== "failed") instance.moveTo("stopping");
          this.o.journal.write(entryFor(now, "stop", instance, `stopping ${instance.id}: ${a.reason}`));
          this.inFlight.add(a.key);
          const graceMs = this.timeouts(instance).stopGraceMs;
          this.executor.dispatch(a.key, () => this.o.driver.stop(instance.id, { graceMs }));
          break;
        }
      }
    }
  }

  /** An action's outcome arrived: its key is no longer in flight. Call inside an action. */
  settled(key: string): void {
    this.inFlight.delete(key);
  }

  timeouts(instance: Instance): Timeouts {
    const s = this.o.fleet.services[instance.service]!;
    return {
      drainTimeoutMs: s.drainTimeoutMs ?? DEFAULT_TIMEOUTS.drainTimeoutMs,
      startTimeoutMs: s.startTimeoutMs ?? DEFAULT_TIMEOUTS.startTimeoutMs,
      stopGraceMs: s.stopGraceMs ?? DEFAULT_TIMEOUTS.stopGraceMs,
    };
  }

  close(): void {
    this.executor.close();
  }

  private launch(service: Service, reason: string, now: number): void {
    const token = this.o.token();
    const instance = this.o.store.add(service, token, now);
    const key = `start:${instance.id}`;
    this.inFlight.add(key);
    this.o.journal.write(entryFor(now, "start", instance, `starting ${instance.id}: ${reason}`));
    const spec = service.spec;
    this.executor.dispatch(key, () =>
      this.o.driver.start({
        instanceId: instance.id,
        fleet: this.o.fleet.name,
        service: service.name,
        image: spec.image,
        args: spec.args ?? [],
        env: {
          ...spec.env,
          FROCTAL_MANAGER_URL: this.o.managerUrl,
          FROCTAL_INSTANCE_ID: instance.id,
          FROCTAL_TOKEN: token,
        },
      }),
    );
    this.o.after(this.timeouts(instance).startTimeoutMs, { kind: "expired", instance, what: "start" });
  }
}
