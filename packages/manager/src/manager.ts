/**
 * The manager core, wired: edge -> ticker -> store -> derivations -> one
 * reaction -> executor -> driver, and back as signals. No sockets, processes
 * or timers of its own: the clock, the driver and the sessions are injected.
 *
 * One tick: apply every queued signal in ONE action; step each service's
 * scaler; publish aggregates. Then MobX runs the reactions once on that
 * consistent snapshot: the plan reaction (the single door to the executor)
 * and the rollout reaction.
 */
import type { Clock, Disposer } from "@froctal/primitives";
import { createTicker, type Ticker } from "@froctal/reactive";
import { action, computed, type IComputedValue, type IObservableValue, observable, reaction } from "mobx";
import { canonicalJson } from "./canonical-json.js";
import { ADOPTION_PATH, Durability } from "./durable/durability.js";
import { Edge } from "./edge.js";
import { Actuator, DEFAULT_TIMEOUTS } from "./execute/actuator.js";
import { entryFor, Journal, type JournalEntry } from "./journal.js";
import type { FleetSpec, Recommendation, ServiceSpec } from "./policy/fleet.js";
import type { Driver } from "./ports/driver.js";
import type { StateStore } from "./ports/state.js";
import type { Action } from "./reconcile/plan.js";
import { type Participant, Rollout, type RolloutOutcome } from "./rollout/rollout.js";
import { clamp, INITIAL_SCALER, type ScalerSettings, type ScalerState, scalerSettings, step } from "./scale/scaler.js";
import type { Signal } from "./signals.js";
import type { ManagerStatus } from "./status.js";
import type { Instance } from "./store/instance.js";
import type { Service } from "./store/service.js";
import { FleetStore } from "./store/store.js";
import { randomToken } from "./token.js";

export interface ManagerOptions {
  readonly fleet: FleetSpec;
  readonly driver: Driver;
  readonly clock: Clock;
  /** Where guests reach the manager: handed to each guest as FROCTAL_MANAGER_URL. */
  readonly managerUrl: string;
  /** Makes a fresh per-instance token (default: 128 random bits from the platform's crypto). */
  readonly token?: () => string;
  /** Tick delay: signals that arrive within it are applied together, ms (default 0: next turn). */
  readonly tickMs?: number;
  /** Receives every journal entry as it is written (the CLI prints them). */
  readonly onJournal?: (entry: JournalEntry) => void;
  readonly rolloutTimeoutMs?: number;
  readonly concurrency?: number;
  /** Durable state (generations, instances, committed configs); without it nothing survives a restart. */
  readonly state?: StateStore;
}

/** What restore() found: instances re-adopted, records of instances that are gone, and unknown guests stopped. */
export interface RestoreReport {
  readonly adopted: readonly string[];
  readonly forgotten: readonly string[];
  readonly orphansStopped: readonly string[];
  readonly generation: number;
}

interface ServiceRuntime {
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
  release: Disposer | undefined;
}

export class Manager {
  readonly store: FleetStore;
  readonly journal: Journal;
  private readonly edge: Edge;
  private readonly actuator: Actuator;
  private readonly rollout: Rollout;
  private readonly ticker: Ticker<Signal>;
  private readonly runtimes = new Map<string, ServiceRuntime>();
  /** Keys of actions issued and not yet reported: observable so plans recompute when one finishes. */

  private readonly disposers: Disposer[] = [];
  private readonly timers = new Set<Disposer>();
  private readonly rollouts: RolloutOutcome[] = [];
  private readonly desired = new WeakMap<Instance, IComputedValue<string | undefined>>();
  private wakeTimer: { at: number; dispose: Disposer } | undefined;
  private started = false;
  private readonly durability: Durability;

  constructor(private readonly options: ManagerOptions) {
    this.store = new FleetStore(options.fleet);
    this.journal = new Journal(500, options.onJournal);
    this.durability = new Durability(options.state, options.fleet.name, options.clock, (e) => this.journal.write(e));
    this.ticker = createTicker<Signal>({
      clock: options.clock,
      delayMs: options.tickMs ?? 0,
      apply: (signals) => this.tick(signals),
    });
    this.edge = new Edge(this.store, (s) => this.ticker.push(s));
    this.actuator = new Actuator({
      store: this.store,
      journal: this.journal,
      fleet: options.fleet,
      driver: options.driver,
      clock: options.clock,
      managerUrl: options.managerUrl,
      token: options.token ?? randomToken,
      concurrency: options.concurrency ?? 8,
      report: (outcome) => this.ticker.push({ kind: "outcome", outcome }),
      after: (ms, signal) => this.after(ms, signal),
    });
    this.rollout = new Rollout({
      clock: {
        now: () => options.clock.now(),
        wallNow: () => options.clock.wallNow(),
        setTimeout: (fn, ms) => this.after(ms, { kind: "timer", run: fn }),
      },
      timeoutMs: options.rolloutTimeoutMs ?? options.fleet.rollout?.timeoutMs ?? 5_000,
      lastGeneration: 0,
      onOutcome: (o) => this.recordRollout(o),
      reserve: (g) => this.durability.reserve(g),
    });
    for (const service of this.store.services.values()) {
      const settings = scalerSettings(service.spec);
      const fleet = this.store;
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
      });
    }
  }

  /** The Ingest port for the server edge. */
  get ingest(): Edge {
    return this.edge;
  }

  get stats() {
    return { edge: this.edge.stats, executor: this.actuator.stats, ticker: this.ticker.stats };
  }

  /**
   * Reads durable state and re-adopts the instances the driver still runs
   * (same id, token, phase and committed configuration), forgets the records of
   * instances that are gone, and stops guests of this fleet it has no record
   * of (no token: they could never connect). Call once, before start().
   */
  async restore(): Promise<RestoreReport> {
    const fleet = this.options.fleet.name;
    const saved = this.options.state ? await this.options.state.load(fleet) : { reservedGeneration: 0, instances: [] };
    const observed = await this.options.driver.list(fleet);
    const running = new Map(observed.filter((o) => o.state === "running").map((o) => [o.instanceId, o]));
    const adopted: string[] = [];
    const forgotten: string[] = [];
    action(() => {
      this.rollout.resumeAfter(saved.reservedGeneration);
      this.durability.reservedGeneration = saved.reservedGeneration;
      for (const record of saved.instances) {
        const runtime = this.runtimes.get(record.service);
        if (!running.has(record.id) || runtime === undefined) {
          forgotten.push(record.id);
          this.durability.forget(record.id);
          continue;
        }
        const now = this.options.clock.now();
        const instance = this.store.add(runtime.service, record.token, now, { id: record.id, ordinal: record.ordinal });
        for (const phase of ADOPTION_PATH[record.phase] ?? ["starting"]) instance.moveTo(phase);
        instance.recordCommit(record.generation, record.configJson);
        if (instance.active) runtime.service.target++;
        adopted.push(record.id);
        this.journal.write(
          entryFor(this.options.clock.now(), "start", instance, `re-adopted ${instance.id} (${instance.phase})`),
        );
      }
    })();
    const known = new Set(saved.instances.map((r) => r.id));
    const orphans = observed.filter((o) => !known.has(o.instanceId) && o.state !== "stopped");
    for (const o of orphans) {
      this.journal.write({
        at: this.options.clock.now(),
        kind: "stop",
        service: o.service,
        instance: o.instanceId,
        message: `stopping ${o.instanceId}: this fleet has no record of it, so it could never connect`,
      });
      await this.options.driver.stop(o.instanceId, { graceMs: DEFAULT_TIMEOUTS.stopGraceMs });
    }
    this.durability.persist(this.store.takeChanged());
    return {
      adopted,
      forgotten,
      orphansStopped: orphans.map((o) => o.instanceId),
      generation: this.rollout.lastGeneration,
    };
  }

  /** Starts reconciling: from here on, the fleet converges on its policy. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.disposers.push(this.options.driver.watch((event) => this.ticker.push({ kind: "driver", event })));
    // The single door from the store to the executor.
    this.disposers.push(
      reaction(
        () => [...this.runtimes.values()].flatMap((r) => this.actuator.plan(r.service, r.held.get())),
        (actions) => this.execute(actions),
        { fireImmediately: true },
      ),
    );
    this.disposers.push(
      reaction(
        () => ({ epoch: this.rollout.epoch, participants: this.participants() }),
        action(({ participants }: { participants: readonly Participant[] }) => void this.rollout.begin(participants)),
        { fireImmediately: true, equals: sameRound },
      ),
    );
    this.ticker.push({ kind: "wake" });
  }

  /** Sets every target to zero and waits (on the injected clock) until every instance is gone. */
  async shutdown(timeoutMs = 60_000): Promise<void> {
    this.ticker.push({ kind: "wake" });
    action(() => {
      for (const r of this.runtimes.values()) r.service.target = 0;
    })();
    this.shuttingDown = true;
    const deadline = this.options.clock.now() + timeoutMs;
    while (this.store.instances.size > 0 && this.options.clock.now() < deadline) {
      await new Promise<void>((resolve) => this.options.clock.setTimeout(resolve, 50));
      this.ticker.flush();
    }
  }

  /** Releases reactions, timers and the executor; guests are not touched (call shutdown first). */
  close(): void {
    for (const d of this.disposers.splice(0)) d();
    for (const d of this.timers) d();
    this.timers.clear();
    this.wakeTimer?.dispose();
    this.actuator.close();
    this.rollout.close();
    this.ticker.dispose();
  }

  /** Applies the signals that arrived since the last tick; called by the ticker inside one action. */
  private tick(signals: readonly Signal[]): void {
    for (const s of signals) this.apply(s);
    this.store.publish();
    if (!this.shuttingDown) this.scale();
    this.durability.persist(this.store.takeChanged());
  }

  private shuttingDown = false;

  private apply(s: Signal): void {
    switch (s.kind) {
      case "batch": {
        if (s.instance.phase === "gone") return;
        const before = s.instance.phase;
        this.store.applyBatch(s.instance, s.batch, s.table, s.skip);
        // An instance becoming ready ends a crash loop; a batch from one that already was says nothing about it.
        if (before !== "ready" && isReady(s.instance)) this.runtimes.get(s.instance.service)!.failures = 0;
        return;
      }
      case "opened":
        s.instance.connected = true;
        s.instance.features = s.hello.build.features;
        if (s.hello.runningGeneration !== s.instance.generation) s.instance.recordCommit(s.hello.runningGeneration, "");
        return;
      case "closed":
        s.instance.connected = s.instance.session !== undefined;
        this.rollout.disconnected(s.instance);
        return;
      case "configAck":
        this.rollout.acknowledge(s.instance, s.ack);
        return;
      case "driver":
        this.applyDriverEvent(s.event);
        return;
      case "outcome":
        this.applyOutcome(s.outcome.key, s.outcome.ok, s.outcome.error?.message);
        return;
      case "expired": {
        const i = s.instance;
        if (s.what === "drain" && i.phase === "draining") i.drainExpired = true;
        if (s.what === "start" && (i.phase === "requested" || i.phase === "starting")) {
          this.fail(i, "it did not become ready in time");
        }
        return;
      }
      case "timer":
        s.run();
        return;
      case "wake":
        return;
    }
  }

  private applyDriverEvent(event: import("./ports/driver.js").DriverEvent): void {
    const instance = this.store.instance(event.instanceId);
    if (instance === undefined) return;
    if (event.kind === "started") {
      instance.moveTo("starting");
      return;
    }
    if (instance.phase === "stopping" || event.requested) this.forget(instance, `it exited (${event.detail})`);
    else this.fail(instance, `it exited unexpectedly (${event.detail})`);
  }

  private applyOutcome(key: string, ok: boolean, error: string | undefined): void {
    this.actuator.settled(key);
    const [kind, id] = splitKey(key);
    const instance = id === undefined ? undefined : this.store.instance(id);
    if (instance === undefined) return;
    if (kind === "start" && !ok) this.fail(instance, `the driver could not start it: ${error}`);
    if (kind === "stop") {
      if (ok) this.forget(instance, "it was stopped");
      else
        this.journal.write(
          entryFor(this.options.clock.now(), "failed", instance, `stopping it failed: ${error}; will retry`),
        );
    }
  }

  private fail(instance: Instance, why: string): void {
    if (instance.phase === "gone" || instance.phase === "failed") return;
    const r = this.runtimes.get(instance.service)!;
    if (instance.phase !== "stopping" && instance.phase !== "draining") {
      r.failures++;
      r.held.set(true);
      r.release?.();
      r.release = this.after(Math.min(30_000, 500 * 2 ** (r.failures - 1)), {
        kind: "timer",
        run: () => r.held.set(false),
      });
    }
    instance.failure = why;
    instance.moveTo("failed");
    this.journal.write(entryFor(this.options.clock.now(), "failed", instance, `${instance.id} failed: ${why}`));
  }

  private forget(instance: Instance, why: string): void {
    instance.moveTo("stopping");
    instance.moveTo("gone");
    this.store.remove(instance);
    this.journal.write(entryFor(this.options.clock.now(), "gone", instance, `${instance.id} is gone: ${why}`));
  }

  /** Steps each service's scaler with its current recommendation. */
  private scale(): void {
    const now = this.options.clock.now();
    for (const r of this.runtimes.values()) {
      const rec = this.guard(r, () => r.recommended.get());
      if (rec === undefined) continue; // the policy threw: hold the current target
      const result = step(r.settings, r.scaler, r.service.target, rec.replicas, now);
      r.scaler = result.state;
      if (result.target !== r.service.target) {
        const from = r.service.target;
        r.service.target = result.target;
        this.journal.write({
          at: now,
          kind: "scale",
          service: r.service.name,
          message: `${r.service.name}: ${from} -> ${result.target} replicas (${rec.why})`,
        });
      }
      if (result.wakeAt !== undefined) this.wakeAt(result.wakeAt);
    }
  }

  private readonly execute = action((actions: readonly Action[]) => {
    this.actuator.issue(actions);
    this.durability.persist(this.store.takeChanged());
  });

  /**
   * Runs policy code for a service. A policy that throws must not stop the
   * tick (or the other services): the error is journaled once, and the
   * caller keeps what it had.
   */
  private guard<T>(r: ServiceRuntime, policy: () => T): T | undefined {
    try {
      const value = policy();
      r.policyError = undefined;
      return value;
    } catch (error) {
      const message = `the policy of ${r.service.name} threw: ${error instanceof Error ? error.message : String(error)}`;
      if (r.policyError !== message) {
        r.policyError = message;
        this.journal.write({ at: this.options.clock.now(), kind: "failed", service: r.service.name, message });
      }
      return undefined;
    }
  }

  /** Instances whose desired configuration differs from what they committed. */
  private participants(): Participant[] {
    const out: Participant[] = [];
    for (const r of this.runtimes.values()) {
      const config = r.service.spec.config;
      if (config === undefined) continue;
      for (const instance of r.service.instances.values()) {
        // Only connected guests can take part; one that connects later gets its configuration then.
        if (!instance.connected || (instance.phase !== "ready" && instance.phase !== "starting")) continue;
        const json = this.desiredJson(r, instance, config);
        if (json !== undefined && json !== instance.committedJson) out.push({ instance, json });
      }
    }
    return out;
  }

  /**
   * An instance's desired configuration as canonical JSON, derived once per
   * change of what the policy reads (a computed per instance): a tick in which
   * one guest confirms a commit re-derives nothing for the thousand others.
   */
  private desiredJson(
    r: ServiceRuntime,
    instance: Instance,
    config: NonNullable<ServiceSpec["config"]>,
  ): string | undefined {
    let desired = this.desired.get(instance);
    if (desired === undefined) {
      desired = computed(() => this.guard(r, () => canonicalJson(config(this.store, instance))));
      this.desired.set(instance, desired);
    }
    return desired.get();
  }

  private recordRollout(outcome: RolloutOutcome): void {
    this.rollouts.push(outcome);
    if (this.rollouts.length > 100) this.rollouts.shift();
    const who = outcome.instances.join(", ");
    const message =
      outcome.result === "committed"
        ? `generation ${outcome.generation} committed on ${who}`
        : `generation ${outcome.generation} aborted on ${who}: ${outcome.reason}`;
    this.journal.write({ at: outcome.at, kind: "rollout", message });
  }

  /** A plain snapshot for `froctal status` and the HTTP API. */
  status(): ManagerStatus {
    return {
      fleet: this.options.fleet.name,
      generation: this.rollout.lastGeneration,
      services: [...this.runtimes.values()].map((r) => ({
        name: r.service.name,
        target: r.service.target,
        recommended: r.recommended.get().replicas,
        why: r.recommended.get().why,
        instances: [...r.service.instances.values()].map((i) => ({
          id: i.id,
          phase: i.phase,
          generation: i.generation,
          connected: i.session !== undefined,
          load: r.service.spec.loadMetric === undefined ? null : (i.metric(r.service.spec.loadMetric) ?? null),
          devices: i.deviceList(),
          endpoint: i.fact<{ url?: unknown }>("endpoint")?.url ?? null,
          facts: i.factList(),
          ...(i.failure ? { failure: i.failure } : {}),
        })),
      })),
      rollouts: [...this.rollouts],
      rollout: this.rollout.inFlight ?? null,
      journal: this.journal.recent(50),
    };
  }

  /** Pushes a signal after `ms` on the injected clock; the disposer cancels it. */
  private after(ms: number, signal: Signal): Disposer {
    const dispose = this.options.clock.setTimeout(() => {
      this.timers.delete(dispose);
      this.ticker.push(signal);
    }, ms);
    this.timers.add(dispose);
    return () => {
      this.timers.delete(dispose);
      dispose();
    };
  }

  /** Makes sure a tick runs at `at` (one wake timer, the earliest wins). */
  private wakeAt(at: number): void {
    if (this.wakeTimer !== undefined && this.wakeTimer.at <= at) return;
    this.wakeTimer?.dispose();
    const dispose = this.options.clock.setTimeout(
      () => {
        this.wakeTimer = undefined;
        this.ticker.push({ kind: "wake" });
      },
      Math.max(0, at - this.options.clock.now()),
    );
    this.wakeTimer = { at, dispose };
  }
}

function isReady(i: Instance): boolean {
  return i.phase === "ready";
}

function sameRound(
  a: { epoch: number; participants: readonly Participant[] },
  b: { epoch: number; participants: readonly Participant[] },
): boolean {
  if (a.epoch !== b.epoch || a.participants.length !== b.participants.length) return false;
  return a.participants.every(
    (p, i) => p.instance === b.participants[i]!.instance && p.json === b.participants[i]!.json,
  );
}

function splitKey(key: string): [string, string | undefined] {
  const at = key.indexOf(":");
  return at < 0 ? [key, undefined] : [key.slice(0, at), key.slice(at + 1)];
}
