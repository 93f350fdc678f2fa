/**
 * One tick: every queued input applied in arrival order (the ticker runs this
 * inside ONE MobX action), then the tick's aggregate changes published, each
 * service's scaler stepped, and what must survive a restart written. Here an
 * instance fails (and its service backs off) or is forgotten, releasing at
 * once what it held: its deadlines, its derived configuration, its records.
 */
import type { Clock } from "@froctal/primitives";
import type { Durability } from "../durable/durability.js";
import type { Resync } from "../durable/resync.js";
import type { Executor } from "../execute/executor.js";
import { entryFor, type JournalEntry } from "../journal.js";
import type { DriverEvent } from "../ports/driver.js";
import type { Action } from "../reconcile/action.js";
import type { NetworkParty } from "../rollout/network.js";
import type { Participants } from "../rollout/participants.js";
import type { Rollout } from "../rollout/rollout.js";
import type { Autoscaler } from "../scale/autoscaler.js";
import type { Instance } from "../store/instance.js";
import type { FleetStore } from "../store/store.js";
import type { TickInput } from "./input.js";
import type { Timers } from "./timers.js";

export interface TickParts {
  readonly store: FleetStore;
  readonly clock: Clock;
  readonly journal: (entry: JournalEntry) => void;
  readonly autoscaler: Autoscaler;
  readonly rollout: Rollout;
  readonly participants: Participants;
  readonly executor: Executor<Action>;
  readonly timers: Timers;
  readonly durability: Durability;
  readonly resync: Resync;
  /** The network, when the fleet has a network driver. */
  readonly network: NetworkParty | undefined;
  /** Told of each batch once the tick has applied it (the ingest adapter acknowledges its events then). */
  readonly applied: (input: BatchInput) => void;
}

export type BatchInput = Extract<TickInput, { kind: "batch" }>;

export class Tick {
  constructor(private readonly p: TickParts) {}

  /** Applies the inputs that arrived since the last tick. Called by the ticker inside one action. */
  run(inputs: readonly TickInput[]): void {
    const batches: BatchInput[] = [];
    for (const input of inputs) if (this.apply(input) && input.kind === "batch") batches.push(input);
    this.p.store.publish();
    this.p.autoscaler.step();
    this.p.durability.persist(this.p.store.takeChanged());
    // ---- ingest acknowledgement: only now are these batches' events applied, so only now acknowledged. ----
    for (const b of batches) this.p.applied(b);
  }

  /** Applies one input; true for a batch that was applied. */
  private apply(input: TickInput): boolean {
    switch (input.kind) {
      case "batch": {
        const i = input.instance;
        if (i.phase === "gone") return false;
        const before = i.phase;
        this.p.store.applyBatch(i, input.batch, input.table, input.skip);
        this.p.resync.heard(i.id);
        // An instance becoming ready ends a crash loop and its start deadline; a batch from one that already was says nothing.
        if (before !== "ready" && i.phase === "ready") {
          this.p.autoscaler.ready(i.service);
          this.p.timers.clear(i, "start");
        }
        return true;
      }
      case "opened":
        input.instance.connected = true;
        input.instance.features = input.hello.build.features;
        if (input.hello.runningGeneration !== input.instance.generation) {
          input.instance.recordCommit(input.hello.runningGeneration, "");
        }
        return false;
      case "closed":
        input.instance.connected = input.instance.session !== undefined;
        this.p.rollout.disconnected(input.instance);
        return false;
      case "configAck":
        this.p.rollout.acknowledge(input.instance, input.ack);
        return false;
      case "networkAck":
        if (this.p.network !== undefined) this.p.rollout.acknowledge(this.p.network, input.ack);
        return false;
      case "driver":
        this.driverEvent(input.event);
        return false;
      case "outcome":
        this.outcome(input.outcome.action, input.outcome.ok, input.outcome.error);
        return false;
      case "expired": {
        const i = input.instance;
        if (input.what === "drain" && i.phase === "draining") i.drainExpired = true;
        if (input.what === "start" && (i.phase === "requested" || i.phase === "starting")) {
          this.fail(i, "it did not become ready in time");
        }
        return false;
      }
      case "timer":
        input.run();
        return false;
      case "wake":
        return false;
    }
  }

  private driverEvent(event: DriverEvent): void {
    const instance = this.p.store.instance(event.instanceId);
    if (instance === undefined) return;
    if (event.kind === "started") {
      instance.moveTo("starting");
      return;
    }
    this.p.resync.heard(instance.id);
    if (instance.phase === "stopping" || event.requested) this.forget(instance, `it exited (${event.detail})`);
    else this.fail(instance, `it exited unexpectedly (${event.detail})`);
  }

  /** An action's outcome: its key leaves the flight, and what it means is recorded. */
  private outcome(action: Action, ok: boolean, error: { message: string; retryable: boolean } | undefined): void {
    this.p.executor.settle(action);
    const instance = this.p.store.instance(action.instanceId);
    if (instance === undefined || ok) {
      if (instance !== undefined && action.kind === "stop") this.forget(instance, "it was stopped");
      return;
    }
    const why = error?.message ?? "no reason given";
    switch (action.kind) {
      case "start":
        this.fail(instance, `the driver could not start it: ${why}`);
        // Retrying cannot fix this (no such image, a bad spec): the service fails, with the reason, for status.
        if (error !== undefined && !error.retryable) {
          this.p.autoscaler.failForGood(action.service, `${instance.id} could not be started: ${why}`);
        }
        return;
      case "drain":
        if (instance.phase !== "draining") return;
        if (instance.session === undefined)
          instance.drained = true; // it went away: nothing left to drain
        else
          this.write(
            instance,
            "failed",
            `the drain of ${instance.id} could not be sent (${why}); it waits for its deadline`,
          );
        return;
      case "stop":
        this.write(instance, "failed", `stopping it failed: ${why}; will retry`);
        return;
    }
  }

  private fail(instance: Instance, why: string): void {
    if (instance.phase === "gone" || instance.phase === "failed") return;
    if (instance.phase !== "stopping" && instance.phase !== "draining") {
      this.p.autoscaler.failed(instance.service, instance.id, why);
    }
    instance.failure = why;
    instance.moveTo("failed");
    this.write(instance, "failed", `${instance.id} failed: ${why}`);
  }

  private forget(instance: Instance, why: string): void {
    instance.moveTo("stopping");
    instance.moveTo("gone");
    this.p.store.remove(instance);
    this.p.timers.release(instance);
    this.p.participants.release(instance);
    this.write(instance, "gone", `${instance.id} is gone: ${why}`);
  }

  private write(instance: Instance, kind: JournalEntry["kind"], message: string): void {
    this.p.journal(entryFor(this.p.clock.wallNow(), kind, instance, message));
  }
}
