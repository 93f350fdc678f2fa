/**
 * Per service: the policy's recommendation (a computed, clamped), the guard
 * that keeps a throwing policy from stopping the tick, the target (stepped by
 * the pure scaler each tick), and the brakes on starts: a crash loop holds
 * starts back with a doubling backoff (capped at 30 s), and a launch error
 * that can never succeed fails the service for good, with its reason.
 */
import type { Clock } from "@froctal/primitives";
import { computed, type IComputedValue, type IObservableValue, observable } from "mobx";
import type { Resync } from "../durable/resync.js";
import type { JournalEntry } from "../journal.js";
import type { Recommendation } from "../policy/fleet.js";
import type { Service } from "../store/service.js";
import type { FleetStore } from "../store/store.js";
import type { Timers } from "../tick/timers.js";
import { clamp, INITIAL_SCALER, type ScalerSettings, type ScalerState, scalerSettings, step } from "./scaler.js";

/** The longest restarts are held back after failures, ms. */
export const MAX_BACKOFF_MS = 30_000;
/** The first hold after a failure, ms; it doubles with each failure in a row. */
export const FIRST_BACKOFF_MS = 500;

/** The last unexpected end of one of a service's instances. */
export interface LastExit {
  readonly instance: string;
  readonly reason: string;
  /** Wall time, epoch ms. */
  readonly at: number;
}

export interface ServiceRuntime {
  readonly service: Service;
  readonly settings: ScalerSettings;
  readonly recommended: IComputedValue<{ replicas: number; why: string }>;
  scaler: ScalerState;
  /** The last error the service's policy threw, journaled once. */
  policyError: string | undefined;
  /** Consecutive failed starts, for the restart backoff. */
  failures: number;
  /** Set while starts are held back after a failure (bounded restarts). */
  readonly held: IObservableValue<boolean>;
  /** Cancels the pending end of the hold, so a later failure's longer backoff is not cut short. */
  release: (() => void) | undefined;
  /** When starts resume (wall time, epoch ms) while held. */
  nextAttemptAt: number | undefined;
  lastExit: LastExit | undefined;
  /** Why the service failed for good (a launch error that cannot succeed): no more starts. */
  readonly failure: IObservableValue<string | undefined>;
}

export interface AutoscalerOptions {
  readonly store: FleetStore;
  /** After a restart, scale-in waits until the adopted guests re-reported their load (durable/resync.ts). */
  readonly resync: Resync;
  readonly clock: Clock;
  readonly timers: Timers;
  readonly journal: (entry: JournalEntry) => void;
}

export class Autoscaler {
  readonly runtimes = new Map<string, ServiceRuntime>();
  /** Policy errors, counted (and journaled) once each time a policy starts failing or fails differently. */
  readonly stats = { policyErrors: 0 };
  /** Set by shutdown: targets stay at zero whatever the policies say. */
  private stopped = false;

  constructor(private readonly o: AutoscalerOptions) {
    for (const service of o.store.services.values()) {
      const settings = scalerSettings(service.spec);
      const fleet = o.store;
      const recommended = computed(
        () => {
          const r: Recommendation =
            typeof service.spec.replicas === "number" ? service.spec.replicas : service.spec.replicas(service, fleet);
          const replicas = typeof r === "number" ? r : r.replicas;
          const why = typeof r === "number" ? `the policy recommends ${r}` : r.why;
          return { replicas: clamp(replicas, settings), why };
        },
        { keepAlive: true, equals: (a, b) => a.replicas === b.replicas && a.why === b.why },
      );
      this.runtimes.set(service.name, {
        service,
        settings,
        recommended,
        scaler: INITIAL_SCALER,
        failures: 0,
        policyError: undefined,
        held: observable.box(false),
        release: undefined,
        nextAttemptAt: undefined,
        lastExit: undefined,
        failure: observable.box<string | undefined>(undefined),
      });
    }
  }

  runtime(service: string): ServiceRuntime {
    return this.runtimes.get(service)!;
  }

  /** Whether the plan may start instances of this service now (tracked). */
  holdStarts(service: string): boolean {
    const r = this.runtime(service);
    return r.held.get() || r.failure.get() !== undefined;
  }

  /** Steps each service's scaler with its current recommendation. Call inside the tick. */
  step(): void {
    if (this.stopped) return;
    const now = this.o.clock.now();
    for (const r of this.runtimes.values()) {
      const rec = this.guard(r, () => r.recommended.get());
      if (rec === undefined) continue; // the policy threw: hold the current target
      // A recommendation below the target may rest on load not re-reported yet since a restart: not taken until it is.
      if (rec.replicas < r.service.target && !this.o.resync.settled.get()) continue;
      const result = step(r.settings, r.scaler, r.service.target, rec.replicas, now);
      r.scaler = result.state;
      if (result.target !== r.service.target) {
        const from = r.service.target;
        r.service.target = result.target;
        this.o.journal({
          at: this.o.clock.wallNow(),
          kind: "scale",
          service: r.service.name,
          message: `${r.service.name}: ${from} -> ${result.target} replicas (${rec.why})`,
        });
      }
      if (result.wakeAt !== undefined) this.o.timers.wakeAt(result.wakeAt);
    }
  }

  /** Every target to zero, for good (shutdown). Call inside an action. */
  stopAll(): void {
    this.stopped = true;
    for (const r of this.runtimes.values()) r.service.target = 0;
  }

  /** An instance of the service failed: hold starts back, twice as long as last time in a row. */
  failed(service: string, instance: string, reason: string): void {
    const r = this.runtime(service);
    r.failures++;
    r.lastExit = { instance, reason, at: this.o.clock.wallNow() };
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** (r.failures - 1));
    r.held.set(true);
    r.nextAttemptAt = this.o.clock.wallNow() + backoff;
    r.release?.();
    r.release = this.o.timers.run(backoff, () => {
      r.held.set(false);
      r.release = undefined;
      r.nextAttemptAt = undefined;
    });
  }

  /** An instance of the service became ready: the crash loop, if any, is over. */
  ready(service: string): void {
    this.runtime(service).failures = 0;
  }

  /** A launch failed in a way retrying cannot fix: the service starts nothing more. */
  failForGood(service: string, reason: string): void {
    const r = this.runtime(service);
    if (r.failure.get() !== undefined) return;
    r.failure.set(reason);
    this.o.journal({
      at: this.o.clock.wallNow(),
      kind: "failed",
      service,
      message: `${service} failed: ${reason}; no more instances of it will be started`,
    });
  }

  /**
   * Runs policy code for a service. A policy that throws must not stop the
   * tick (or the other services): the error is journaled once, and the
   * caller keeps what it had.
   */
  guard<T>(r: ServiceRuntime, policy: () => T): T | undefined {
    return this.guarded(r, `the policy of ${r.service.name}`, policy, r.service.name);
  }

  /** Runs the fleet's network policy as guard() runs a service's: an error is journaled once, and nothing is derived. */
  guardNetwork<T>(policy: () => T): T | undefined {
    return this.guarded(this.network, "the network policy", policy);
  }

  private readonly network: { policyError: string | undefined } = { policyError: undefined };

  private guarded<T>(
    r: { policyError: string | undefined },
    what: string,
    policy: () => T,
    service?: string,
  ): T | undefined {
    try {
      const value = policy();
      r.policyError = undefined;
      return value;
    } catch (error) {
      const message = `${what} threw: ${error instanceof Error ? error.message : String(error)}`;
      if (r.policyError !== message) {
        r.policyError = message;
        this.stats.policyErrors++;
        const at = this.o.clock.wallNow();
        this.o.journal(
          service === undefined ? { at, kind: "failed", message } : { at, kind: "failed", service, message },
        );
      }
      return undefined;
    }
  }
}
