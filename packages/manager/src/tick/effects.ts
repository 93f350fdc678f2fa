/**
 * What runs after each tick, on its consistent snapshot: the plan effect (the
 * single door from the store to the executor: plan, then issue) and the
 * rollout effect (a new generation when who needs what changed). Both go
 * through `effect` with one error handler: an exception in a policy or plan
 * is journaled with the fleet and service and counted, never printed by MobX.
 */
import type { Clock, Disposer } from "@froctal/primitives";
import { effect } from "@froctal/reactive";
import { action } from "mobx";
import type { Durability } from "../durable/durability.js";
import type { Resync } from "../durable/resync.js";
import { type IssuerOptions, issue } from "../execute/issue.js";
import type { JournalEntry } from "../journal.js";
import type { Action } from "../reconcile/action.js";
import { planFleet } from "../reconcile/fleet-plan.js";
import { type Participants, sameRound } from "../rollout/participants.js";
import type { Rollout } from "../rollout/rollout.js";
import type { Autoscaler } from "../scale/autoscaler.js";

export interface EffectParts {
  readonly fleet: string;
  readonly clock: Clock;
  readonly journal: (entry: JournalEntry) => void;
  readonly issuer: IssuerOptions;
  readonly autoscaler: Autoscaler;
  readonly participants: Participants;
  readonly rollout: Rollout;
  readonly durability: Durability;
  readonly resync: Resync;
}

export class Effects {
  /** Exceptions the effects caught (each also journaled). */
  readonly stats = { errors: 0 };

  constructor(private readonly p: EffectParts) {}

  /** Starts both effects (each runs once now); the disposers stop them. */
  start(): Disposer[] {
    const { issuer, autoscaler, participants, rollout, durability, resync } = this.p;
    const { store, executor, network } = issuer;
    const plan = effect(
      () =>
        planFleet({
          store,
          inFlight: executor.inFlight,
          holdStarts: (service) => autoscaler.holdStarts(service),
          configSettled: () => participants.settled(),
          drainDue: (i) => network !== undefined && !i.drainSent && !i.drained && !network.carries(i.id),
          onError: (service, error) => this.failed("the plan", service, error),
        }),
      action((actions: readonly Action[]) => {
        issue(issuer, actions);
        durability.persist(store.takeChanged());
      }),
      { fireImmediately: true, name: "plan", onError: (error) => this.failed("the plan", undefined, error) },
    );
    const round = effect(
      // After a restart, no generation begins until the adopted guests re-reported what configs derive from.
      () => ({ epoch: rollout.epoch, participants: participants.list(), settled: resync.settled.get() }),
      action(({ participants, settled }) => void (settled && rollout.begin(participants))),
      {
        fireImmediately: true,
        equals: (a, b) => a.settled === b.settled && sameRound(a, b),
        name: "rollout",
        onError: (error) => this.failed("the rollout", undefined, error),
      },
    );
    return [plan, round];
  }

  private failed(what: string, service: string | undefined, error: unknown): void {
    this.stats.errors++;
    const why = error instanceof Error ? error.message : String(error);
    const where = service === undefined ? `fleet ${this.p.fleet}` : `${service} (fleet ${this.p.fleet})`;
    const entry = { at: this.p.clock.wallNow(), kind: "failed", message: `${what} of ${where} threw: ${why}` } as const;
    this.p.journal(service === undefined ? entry : { ...entry, service });
  }
}
