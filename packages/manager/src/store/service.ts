import { action, computed, makeObservable, observable } from "mobx";
import type { InstancePhase, ServiceSpec, ServiceView } from "../policy/fleet.js";
import { Aggregate } from "./aggregate.js";
import type { Instance } from "./instance.js";
import { Members } from "./members.js";

const ACTIVE: ReadonlySet<InstancePhase> = new Set(["requested", "starting", "ready"]);
const ATTENTION: ReadonlySet<InstancePhase> = new Set(["draining", "stopping", "failed"]);

export class Service implements ServiceView {
  readonly instances = new Members<Instance>();
  /** The replica count the manager holds now (a decision, changed only by the scaler). */
  target = 0;
  /** How many instances are requested, starting or ready: kept as phases change, so planning is O(1). */
  activeCount = 0;
  /** Instances the reconciler must act on whatever the target (draining, stopping, failed). */
  readonly attention = observable.set<Instance>([], { deep: false });
  private readonly metrics = new Map<string, Aggregate>();

  constructor(
    readonly name: string,
    readonly spec: ServiceSpec,
  ) {
    makeObservable(this, {
      target: observable,
      activeCount: observable,
      active: computed,
      ready: computed,
      phaseChanged: action,
      forget: action,
    });
  }

  get active(): Instance[] {
    return [...this.instances.values()].filter((i) => i.active);
  }

  get ready(): Instance[] {
    return [...this.instances.values()].filter((i) => i.phase === "ready");
  }

  /** Keeps activeCount and attention in step with an instance's phase (from: undefined for a new one). */
  phaseChanged(instance: Instance, from: InstancePhase | undefined): void {
    if (from !== undefined && ACTIVE.has(from)) this.activeCount--;
    if (ACTIVE.has(instance.phase)) this.activeCount++;
    if (ATTENTION.has(instance.phase)) this.attention.add(instance);
    else this.attention.delete(instance);
  }

  /** Drops a gone instance from this service. */
  forget(instance: Instance): void {
    if (this.instances.delete(instance.id) && ACTIVE.has(instance.phase)) this.activeCount--;
    this.attention.delete(instance);
  }

  /** The aggregate of a metric over this service's instances (created on first use). */
  metric(name: string): Aggregate {
    let agg = this.metrics.get(name);
    if (agg === undefined) {
      agg = new Aggregate(name);
      this.metrics.set(name, agg);
    }
    return agg;
  }
}
