/**
 * One instance: the facts observed about it. Its phase follows this machine
 * (anything else is refused, so a late or repeated signal cannot move it back):
 *
 *   requested -> starting -> ready -> draining -> stopping -> gone
 *        \           \          \         \           (any) -> failed -> gone
 *         `-----------`----------`---------`-> stopping
 */
import { createAtom, type IAtom, type ObservableMap, observable, runInAction } from "mobx";
import type { DeviceView, InstancePhase, InstanceView } from "../policy/fleet.js";
import type { AgentSession } from "../ports/ingest.js";
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

/** Facts that change a few times in an instance's life, kept in one observable record to save memory. */
interface Life {
  /** Its drain frame was handed to the executor (with a network, only once the network stopped sending it work). */
  readonly drainSent: boolean;
  readonly drained: boolean;
  readonly drainExpired: boolean;
  readonly connected: boolean;
  readonly failure: string;
}

const NEW_LIFE: Life = Object.freeze({
  drainSent: false,
  drained: false,
  drainExpired: false,
  connected: false,
  failure: "",
});

/**
 * Memory matters here (one of these per guest, 100,000 of them in a big
 * fleet): four observables, not one per field; devices, facts and metric
 * slots are created on first use.
 */
export class Instance implements InstanceView {
  /**
   * One atom stands for every observable field of the instance (phase,
   * committed configuration, life flags, features): they change a few times
   * in an instance's life, and one atom costs a fraction of four boxes.
   */
  private readonly atom = createAtom("instance");
  private phaseValue: InstancePhase = "requested";
  private committed: { readonly generation: number; readonly json: string } = { generation: 0, json: "" };
  private life: Life = NEW_LIFE;
  private featureList: readonly string[] = [];
  private devicesMap: ObservableMap<string, DeviceView> | undefined;
  private factsMap: ObservableMap<string, unknown> | undefined;
  private slots: Map<string, MetricSlot> | undefined;
  /** Observed by metric() reads that found no slot yet; told when one appears. */
  private slotsAtom: IAtom | undefined;

  // Plain fields below: bookkeeping of the ingest adapter, not facts derivations read.
  /**
   * The agent's open session: frames go out and acks through it. The ingest
   * adapter sets and clears it; the store clears it when it forgets the instance.
   */
  session: AgentSession | undefined;
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
  }

  get phase(): InstancePhase {
    this.atom.reportObserved();
    return this.phaseValue;
  }

  /** Build info from the agent's hello: features compiled into the guest. */
  get features(): readonly string[] {
    this.atom.reportObserved();
    return this.featureList;
  }
  set features(features: readonly string[]) {
    this.featureList = features;
    this.atom.reportChanged();
  }

  /** The configuration generation the guest says it runs. */
  get generation(): number {
    this.atom.reportObserved();
    return this.committed.generation;
  }

  /** The configuration (canonical JSON) the guest confirmed it committed; "" when unknown. */
  get committedJson(): string {
    this.atom.reportObserved();
    return this.committed.json;
  }

  /** Its drain frame went to the executor (see Life). */
  get drainSent(): boolean {
    return this.lifeFlag("drainSent");
  }
  set drainSent(drainSent: boolean) {
    this.setLife({ drainSent });
  }

  /** The agent finished draining (or had nothing to drain). */
  get drained(): boolean {
    return this.lifeFlag("drained");
  }
  set drained(drained: boolean) {
    this.setLife({ drained });
  }

  /** The drain deadline passed before the agent said it was drained. */
  get drainExpired(): boolean {
    return this.lifeFlag("drainExpired");
  }
  set drainExpired(drainExpired: boolean) {
    this.setLife({ drainExpired });
  }

  /** An agent session is open for this instance (as of the last tick). */
  get connected(): boolean {
    return this.lifeFlag("connected");
  }
  set connected(connected: boolean) {
    this.setLife({ connected });
  }

  /** Why the instance failed, when it did. */
  get failure(): string {
    this.atom.reportObserved();
    return this.life.failure;
  }
  set failure(failure: string) {
    this.setLife({ failure });
  }

  private lifeFlag(name: "drainSent" | "drained" | "drainExpired" | "connected"): boolean {
    this.atom.reportObserved();
    return this.life[name];
  }

  /** Call inside an action. */
  private setLife(change: Partial<Life>): void {
    const next = { ...this.life, ...change };
    if (
      next.drainSent === this.life.drainSent &&
      next.drained === this.life.drained &&
      next.drainExpired === this.life.drainExpired &&
      next.connected === this.life.connected &&
      next.failure === this.life.failure
    )
      return;
    this.life = next;
    this.atom.reportChanged();
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
    const from = this.phaseValue;
    if (next === from) return true;
    if (!NEXT[from].includes(next)) return false;
    runInAction(() => {
      this.phaseValue = next;
      this.atom.reportChanged();
      this.onDurableChange(this, from);
    });
    return true;
  }

  get active(): boolean {
    const phase = this.phase;
    return phase === "requested" || phase === "starting" || phase === "ready";
  }

  /** The guest confirmed it runs `generation` with this configuration. */
  recordCommit(generation: number, json: string): void {
    runInAction(() => {
      this.committed = { generation, json };
      this.atom.reportChanged();
      this.onDurableChange(this, this.phaseValue);
    });
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

  /** How many distinct metrics this instance has declared. */
  get metricCount(): number {
    return this.slots?.size ?? 0;
  }

  /** The slot of a metric this instance declared, if any. */
  metricSlot(name: string): MetricSlot | undefined {
    return this.slots?.get(name);
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
    if (slot?.present) return slot.aggregate.read(slot);
    this.slotsAtom ??= createAtom(`${this.id}.metrics`);
    this.slotsAtom.reportObserved();
    return slot === undefined ? undefined : slot.aggregate.read(slot);
  }

  fact<T = unknown>(name: string): T | undefined {
    this.factsMap ??= observable.map<string, unknown>({}, { deep: false });
    return this.factsMap.get(name) as T | undefined;
  }

  /** Every fact, for status: plain data, without creating the map for an instance that has none. */
  factList(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, value] of this.factsMap ?? [])
      out[name] = value instanceof Uint8Array ? `<${value.length} bytes>` : value;
    return out;
  }

  /** Call inside an action. */
  setFact(name: string, value: unknown): void {
    this.factsMap ??= observable.map<string, unknown>({}, { deep: false });
    this.factsMap.set(name, value);
  }
}
