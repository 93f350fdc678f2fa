/**
 * One instance: the facts observed about it. Its phase follows this machine
 * (anything else is refused, so a late or repeated signal cannot move it back):
 *
 *   requested -> starting -> ready -> draining -> stopping -> gone
 *        \           \          \         \           (any) -> failed -> gone
 *         `-----------`----------`---------`-> stopping
 */
import { action, makeObservable, observable } from "mobx";
import type { DeviceView, InstancePhase, InstanceView } from "../policy/fleet.js";
import type { Aggregate } from "./aggregate.js";

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

export class Instance implements InstanceView {
  phase: InstancePhase = "requested";
  /** The configuration generation the guest says it runs. */
  generation = 0;
  readonly devices = observable.map<string, DeviceView>({}, { deep: false });
  private readonly facts = observable.map<string, unknown>({}, { deep: false });
  features: readonly string[] = [];
  /** The agent finished draining (or had nothing to drain). */
  drained = false;
  /** An agent session is open for this instance (as of the last tick). */
  connected = false;
  /** The drain deadline passed before the agent said it was drained. */
  drainExpired = false;
  /** The configuration (canonical JSON) the guest confirmed it committed; "" when unknown. */
  committedJson = "";
  /** Why the instance failed, when it did. */
  failure = "";

  // Plain fields below: bookkeeping of the edge, not facts derivations read.
  session: SessionHandle | undefined;
  streamId = "";
  /** Highest event seq of `streamId` taken into the ingest queue. */
  acceptedSeq = 0;
  readonly token: string;
  /**
   * Aggregates this instance reports into, to clean up when it goes. Observable
   * (shallow) so a derivation that read metric() before the first sample re-runs.
   */
  readonly reports: Set<Aggregate> = observable.set<Aggregate>([], { deep: false });

  constructor(
    readonly id: string,
    readonly service: string,
    readonly ordinal: number,
    token: string,
    readonly createdAt: number,
    /** Told when a fact that must survive a restart changes (phase, committed configuration). */
    private readonly onDurableChange: (instance: Instance) => void = () => {},
  ) {
    this.token = token;
    makeObservable<Instance, "facts" | "onDurableChange">(this, {
      phase: observable,
      generation: observable,
      features: observable.ref,
      drained: observable,
      connected: observable,
      drainExpired: observable,
      failure: observable,
      committedJson: observable,
      recordCommit: action,
      facts: false,
      onDurableChange: false,
      moveTo: action,
      setFact: action,
    });
  }

  /** Moves along the state machine; returns false (and changes nothing) for a move it does not allow. */
  moveTo(next: InstancePhase): boolean {
    if (next === this.phase) return true;
    if (!NEXT[this.phase].includes(next)) return false;
    this.phase = next;
    this.onDurableChange(this);
    return true;
  }

  get active(): boolean {
    return this.phase === "requested" || this.phase === "starting" || this.phase === "ready";
  }

  /** The guest confirmed it runs `generation` with this configuration. */
  recordCommit(generation: number, json: string): void {
    this.generation = generation;
    this.committedJson = json;
    this.onDurableChange(this);
  }

  metric(name: string): number | undefined {
    for (const agg of this.reports) if (agg.name === name) return agg.get(this.id);
    return undefined;
  }

  fact<T = unknown>(name: string): T | undefined {
    return this.facts.get(name) as T | undefined;
  }

  setFact(name: string, value: unknown): void {
    this.facts.set(name, value);
  }
}
