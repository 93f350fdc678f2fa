/**
 * The manager core, wired (its logic lives in the files it wires): ingest
 * adapter -> ticker -> tick (tick/apply.ts: apply, scale) -> store ->
 * derivations -> effects (tick/effects.ts: plan, then issue) -> executor ->
 * driver, and back as tick inputs. No sockets, processes or timers of its own:
 * the clock, the driver and the sessions are injected.
 */
import type { Disposer } from "@froctal/primitives";
import type { ConfigAck } from "@froctal/protocol";
import { FroctalError } from "@froctal/protocol";
import { createTicker, type Ticker, until } from "@froctal/reactive";
import { action } from "mobx";
import { Durability } from "./durable/durability.js";
import { type RestoreReport, restore } from "./durable/restore.js";
import { Resync } from "./durable/resync.js";
import { Executor } from "./execute/executor.js";
import { command, networkStep, performer } from "./execute/perform.js";
import { IngestAdapter } from "./ingest/adapter.js";
import { Journal, type JournalEntry } from "./journal.js";
import type { ManagerOptions } from "./options.js";
import { checkFleet } from "./policy/fleet.js";
import { type Action, actionKey, type Configure } from "./reconcile/action.js";
import { recording } from "./record/record.js";
import { RolloutHistory } from "./rollout/history.js";
import { NetworkParty } from "./rollout/network.js";
import { Participants } from "./rollout/participants.js";
import { type Party, Rollout } from "./rollout/rollout.js";
import { Autoscaler } from "./scale/autoscaler.js";
import { type ManagerStatus, projectStatus } from "./status.js";
import { Instance } from "./store/instance.js";
import { FleetStore } from "./store/store.js";
import { Tick } from "./tick/apply.js";
import { Effects } from "./tick/effects.js";
import type { TickInput } from "./tick/input.js";
import { Timers } from "./tick/timers.js";
import { randomToken } from "./token.js";

export type { RestoreReport } from "./durable/restore.js";
export type { ManagerOptions } from "./options.js";

export class Manager {
  readonly store: FleetStore;
  readonly journal: Journal;
  /** The Ingest port the agent server (@froctal/server) calls. */
  readonly ingest: IngestAdapter;
  private readonly ticker: Ticker<TickInput>;
  private readonly timers: Timers;
  private readonly executor: Executor<Action>;
  private readonly autoscaler: Autoscaler;
  private readonly rollout: Rollout;
  private readonly resync: Resync;
  private readonly network: NetworkParty | undefined;
  private readonly history: RolloutHistory;
  private readonly durability: Durability;
  private readonly effects: Effects;
  private readonly disposers: Disposer[] = [];
  private started = false;
  /** Queues a tick input from outside the core (recorded, when recording). */
  readonly #push: (input: TickInput) => void;
  /**
   * This fleet's id, which every guest is launched with. With a State port it
   * is the state's, read by restore(); without one (tests, an embedding), one
   * is made per run: no later manager could re-adopt this run's guests anyway
   * (their tokens are kept nowhere), and none of them must pass for another's.
   */
  #fleetId: string | undefined;
  /** The id this run uses when there is no State port: given, or 128 random bits as a state store makes them. */
  readonly #runFleetId: string;

  constructor(private readonly options: ManagerOptions) {
    const { fleet, clock } = options;
    // A manager built without the CLI (an embedding, a test) gets the check `froctal up` makes.
    checkFleet(fleet);
    if (options.state !== undefined && options.fleetId !== undefined) {
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `fleet ${fleet.name} has a State port, which keeps its id: it cannot also be given one`,
      );
    }
    this.#runFleetId = options.fleetId ?? randomToken();
    this.#fleetId = options.state === undefined ? this.#runFleetId : undefined;
    const journal = (e: JournalEntry) => this.journal.write(e);
    const enqueue = (input: TickInput) => this.ticker.push(input);
    // With options.record, what comes from outside is recorded as it is queued (record/record.ts); the core's own timers are not.
    const rec = recording(options, enqueue);
    const push = rec.push;
    this.#push = push;
    const { managerUrl } = options;
    const store = new FleetStore(fleet);
    const timers = new Timers(clock, enqueue);
    const durability = new Durability(options.state, fleet.name, clock, journal);
    const executor = new Executor<Action>({
      clock,
      keyOf: actionKey,
      kindOf: (a) => a.kind,
      perform: performer({
        store,
        fleet,
        fleetId: () => this.fleetId,
        driver: options.driver,
        managerUrl: typeof managerUrl === "string" ? () => managerUrl : managerUrl,
      }),
      report: (outcome) => push({ kind: "outcome", outcome }),
      concurrency: options.concurrency ?? 8,
    });
    const resync = new Resync();
    const autoscaler = new Autoscaler({ store, resync, clock, timers, journal });
    // A network policy without a network driver derives nothing: the fleet runs on its own (load balancer guests).
    const network = options.network === undefined ? undefined : new NetworkParty(options.network);
    const participants = new Participants(store, autoscaler, network);
    const history = new RolloutHistory(journal);
    const answer = (ack: ConfigAck) => push({ kind: "networkAck", ack });
    const configure = (party: Party, step: Configure): boolean =>
      party instanceof Instance ? command(party, step) : networkStep(network!.driver, party.generation, step, answer);
    const rollout = new Rollout({
      clock: timers.asClock(),
      timeoutMs: options.rolloutTimeoutMs ?? fleet.rollout?.timeoutMs ?? 5_000,
      lastGeneration: 0,
      onOutcome: (o) => history.record(o),
      configure,
      reserve: (g) => durability.reserve(g),
      ...(options.nonceTag === undefined ? {} : { nonceTag: options.nonceTag }),
    });
    const issuer = { store, fleet, clock, timers, executor, token: rec.token, journal, network };
    const parts = {
      store,
      clock,
      journal,
      autoscaler,
      rollout,
      participants,
      executor,
      timers,
      durability,
      resync,
      network,
    };
    // The ingest adapter acknowledges a batch's events only once the tick has applied them.
    const tick = new Tick({ ...parts, applied: (batch) => this.ingest.applied(batch) });
    this.ticker = createTicker<TickInput>({
      clock,
      delayMs: options.tickMs ?? 0,
      apply: rec.tick((inputs) => tick.run(inputs)),
    });
    this.effects = new Effects({
      fleet: fleet.name,
      clock,
      journal,
      issuer,
      autoscaler,
      participants,
      rollout,
      durability,
      resync,
    });
    this.journal = new Journal(500, options.onJournal);
    this.ingest = new IngestAdapter(store, push);
    this.store = store;
    this.timers = timers;
    this.durability = durability;
    this.executor = executor;
    this.autoscaler = autoscaler;
    this.history = history;
    this.rollout = rollout;
    this.resync = resync;
    this.network = network;
  }

  get stats() {
    const { ingest, executor, ticker, effects, autoscaler } = this;
    const reactions = { errors: effects.stats.errors, policyErrors: autoscaler.stats.policyErrors };
    const { outcomes: actions } = executor;
    const { rollout, journal } = this;
    return {
      ingest: ingest.stats,
      executor: executor.stats,
      ticker: ticker.stats,
      reactions,
      actions,
      rollouts: rollout.stats,
      journal: journal.stats,
    };
  }

  /** The fleet's id (see #fleetId); with a State port, known once restore() has read it. */
  get fleetId(): string {
    if (this.#fleetId === undefined) {
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `the id of fleet ${this.options.fleet.name} is kept in its state: call restore() before start()`,
      );
    }
    return this.#fleetId;
  }

  /**
   * Reads the fleet's id and re-adopts what durable state and the driver say
   * still runs (durable/restore.ts). Call once, before start(); with a State
   * port, start() refuses to run before it.
   */
  async restore(): Promise<RestoreReport> {
    const { fleet, state, driver, clock } = this.options;
    const { store, rollout, durability } = this;
    const runFleetId = this.#runFleetId;
    const journal = (e: JournalEntry) => this.journal.write(e);
    const { resync, timers } = this;
    const resyncMs = this.options.resyncMs ?? 15_000;
    const report = await restore({
      ...{ fleet, state, runFleetId, driver, clock, store, rollout, durability, journal },
      ...{ resync, timers, resyncMs },
    });
    this.#fleetId = report.fleetId;
    return report;
  }

  /** Starts reconciling: from here on, the fleet converges on its policy. */
  start(): void {
    if (this.started) return;
    // Nothing is launched under an id the state does not hold.
    void this.fleetId;
    this.started = true;
    this.ingest.open = true;
    this.disposers.push(this.options.driver.watch((event) => this.#push({ kind: "driver", event })));
    this.disposers.push(...this.effects.start());
    this.ticker.push({ kind: "wake" });
  }

  /** Runs a tick now on what is pending: a replay (record/replay.ts) ticks where the recorded run ticked. */
  tick(): void {
    this.ticker.flush();
  }

  /** Sets every target to zero and waits (on the injected clock) until every instance is gone, or the timeout. */
  async shutdown(timeoutMs = 60_000): Promise<void> {
    this.options.record?.({ at: this.options.clock.now(), shutdown: true });
    action(() => this.autoscaler.stopAll())();
    this.ticker.push({ kind: "wake" });
    const clock = this.options.clock;
    try {
      await until(() => this.store.instances.size === 0, { clock, timeoutMs, name: "shutdown" });
    } catch (error) {
      if (!(error instanceof FroctalError && error.code === "FROCTAL_E_TIMEOUT")) throw error;
      const left = [...this.store.instances.keys()].join(", ");
      this.journal.write({
        at: clock.wallNow(),
        kind: "failed",
        message: `shutdown timed out; still running: ${left}`,
      });
    }
  }

  /** Releases effects, timers and the executor; guests are not touched (call shutdown first). */
  close(): void {
    for (const d of this.disposers.splice(0)) d();
    this.timers.close();
    this.executor.close();
    this.rollout.close();
    this.ticker.dispose();
  }

  /** A plain snapshot for `froctal status` and the HTTP API (status.ts). */
  status(): ManagerStatus {
    const { autoscaler, rollout, journal } = this;
    return projectStatus({
      fleet: this.options.fleet.name,
      autoscaler,
      rollout,
      rollouts: this.history.outcomes,
      journal,
      timers: this.timers,
      network: this.network,
    });
  }
}
