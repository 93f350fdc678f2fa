/**
 * One instance: the facts observed about it. Its phase follows this machine
 * (anything else is refused, so a late or repeated signal cannot move it back):
 *
 *   requested -> starting -> ready -> draining -> stopping -> gone
 *        \           \          \         \           (any) -> failed -> gone
 *         `-----------`----------`---------`-> stopping
 */
import { action, createAtom, type IAtom, makeObservable, type ObservableMap, observable } from "mobx";
import type { DeviceView, InstancePhase, InstanceView } from "../policy/fleet.js";
import type { Aggregate, MetricSlot } from "./aggregate.js";

const NEXT: Readonly<Record<InstancePhase, readonly InstancePhase[]>> = {
  requested: ["starting", "ready", "stopping", "failed"],
  starting: ["ready", "draining", "stopping", "failed"],
  ready: ["draining", "stopping", "failed"],
  draining: ["stopping", "failed"],
  stopping: ["gone", "failed"],
  failed: ["stopping", "gone"],
  gone: [],
};

/** The handle through which the manager talks to an instance's connected agent. */
export interface SessionHandle {
  readonly sessionId: string;
  send(frame: import("@froctal/protocol").ManagerFrame): boolean;
}

/** Facts that change a few times in an instance's life, kept in one observable record to save memory. */
interface Life {
  readonly drained: boolean;
  readonly drainExpired: boolean;
  readonly connected: boolean;
  readonly failure: string;
}

const NEW_LIFE: Life = Object.freeze({ drained: false, drainExpired: false, connected: false, failure: "" });

/**
 * Memory matters here (one of these per guest, 100,000 of them in a big
 * fleet): four observables, not one per field; devices, facts and metric
 * slots are created on first use.
 */
export class Instance implements InstanceView {
  phase: InstancePhase = "requested";
  /** The configuration generation the guest says it runs, and the configuration (canonical JSON; "" when unknown). */
  private committed: { readonly generation: number; readonly json: string } = { generation: 0, json: "" };
  private life: Life = NEW_LIFE;
  features: readonly string[] = [];
  private devicesMap: ObservableMap<string, DeviceView> | undefined;
  private factsMap: ObservableMap<string, unknown> | undefined;
  private slots: Map<string, MetricSlot> | undefined;
  /** Observed by metric() reads that found no slot yet; told when one appears. */
  private slotsAtom: IAtom | undefined;

  // Plain fields below: bookkeeping of the edge, not facts derivations read.
  session: SessionHandle | undefined;
  streamId = "";
  /** Highest event seq of `streamId` taken into the ingest queue. */
  acceptedSeq = 0;
  readonly token: string;

  constructor(
    readonly id: string,
    readonly service: string,
    readonly ordinal: number,
    token: string,
    readonly createdAt: number,
    /** Told when a fact that must survive a restart changes (phase, committed configuration). */
    private readonly onDurableChange: (instance: Instance, from: InstancePhase) => void = () => {},
  ) {
    this.token = token;
    makeObservable<Instance, "committed" | "life">(this, {
      phase: observable,
      committed: observable.ref,
      life: observable.ref,
      features: observable.ref,
      recordCommit: action,
      moveTo: action,
      setFact: action,
    });
  }

  /** The configuration generation the guest says it runs. */
  get generation(): number {
    return this.committed.generation;
  }

  /** The configuration (canonical JSON) the guest confirmed it committed; "" when unknown. */
  get committedJson(): string {
    return this.committed.json;
  }

  /** The agent finished draining (or had nothing to drain). */
  get drained(): boolean {
    return this.life.drained;
  }
  set drained(drained: boolean) {
    if (drained !== this.life.drained) this.life = { ...this.life, drained };
  }

  /** The drain deadline passed before the agent said it was drained. */
  get drainExpired(): boolean {
    return this.life.drainExpired;
  }
  set drainExpired(drainExpired: boolean) {
    if (drainExpired !== this.life.drainExpired) this.life = { ...this.life, drainExpired };
  }

  /** An agent session is open for this instance (as of the last tick). */
  get connected(): boolean {
    return this.life.connected;
  }
  set connected(connected: boolean) {
    if (connected !== this.life.connected) this.life = { ...this.life, connected };
  }

  /** Why the instance failed, when it did. */
  get failure(): string {
    return this.life.failure;
  }
  set failure(failure: string) {
    if (failure !== this.life.failure) this.life = { ...this.life, failure };
  }

  /** Devices the guest reported, by id. */
  get devices(): ObservableMap<string, DeviceView> {
    this.devicesMap ??= observable.map<string, DeviceView>({}, { deep: false });
    return this.devicesMap;
  }

  /** The devices, without creating the map for an instance that has none. */
  deviceList(): DeviceView[] {
    return this.devicesMap === undefined ? [] : [...this.devicesMap.values()];
  }

  /** Moves along the state machine; returns false (and changes nothing) for a move it does not allow. */
  moveTo(next: InstancePhase): boolean {
    if (next === this.phase) return true;
    if (!NEXT[this.phase].includes(next)) return false;
    const from = this.phase;
    this.phase = next;
    this.onDurableChange(this, from);
    return true;
  }

  get active(): boolean {
    return this.phase === "requested" || this.phase === "starting" || this.phase === "ready";
  }

  /** The guest confirmed it runs `generation` with this configuration. */
  recordCommit(generation: number, json: string): void {
    this.committed = { generation, json };
    this.onDurableChange(this, this.phase);
  }

  /** This instance's slot in an aggregate (made on first use: when its session declares the metric). */
  slot(aggregate: Aggregate): MetricSlot {
    this.slots ??= new Map();
    let slot = this.slots.get(aggregate.name);
    if (slot === undefined) {
      slot = aggregate.join();
      this.slots.set(aggregate.name, slot);
    }
    return slot;
  }

  /** Records a sample into a slot of this instance. Call inside the tick; true when the aggregate became dirty. */
  sample(slot: MetricSlot, value: number): boolean {
    if (!slot.present) this.slotsAtom?.reportChanged();
    return slot.aggregate.update(slot, value);
  }

  /** Takes this instance out of every aggregate (it is gone); returns the aggregates that became dirty. */
  leaveAll(): Aggregate[] {
    const dirty: Aggregate[] = [];
    for (const slot of this.slots?.values() ?? []) if (slot.aggregate.leave(slot)) dirty.push(slot.aggregate);
    this.slots = undefined;
    return dirty;
  }

  metric(name: string): number | undefined {
    const slot = this.slots?.get(name);
    if (slot !== undefined && slot.present) return slot.aggregate.read(slot);
    this.slotsAtom ??= createAtom(`${this.id}.metrics`);
    this.slotsAtom.reportObserved();
    return slot === undefined ? undefined : slot.aggregate.read(slot);
  }

  fact<T = unknown>(name: string): T | undefined {
    this.factsMap ??= observable.map<string, unknown>({}, { deep: false });
    return this.factsMap.get(name) as T | undefined;
  }

  setFact(name: string, value: unknown): void {
    this.factsMap ??= observable.map<string, unknown>({}, { deep: false });
    this.factsMap.set(name, value);
  }
}
