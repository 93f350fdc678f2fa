import { computed, makeObservable, observable } from "mobx";
import type { ServiceSpec, ServiceView } from "../policy/fleet.js";
import { Aggregate } from "./aggregate.js";
import type { Instance } from "./instance.js";

export class Service implements ServiceView {
  readonly instances = observable.map<string, Instance>({}, { deep: false });
  /** The replica count the manager holds now (a decision, changed only by the scaler). */
  target = 0;
  private readonly metrics = new Map<string, Aggregate>();

  constructor(
    readonly name: string,
    readonly spec: ServiceSpec,
  ) {
    makeObservable(this, { target: observable, active: computed, ready: computed });
  }

  get active(): Instance[] {
    return [...this.instances.values()].filter((i) => i.active);
  }

  get ready(): Instance[] {
    return [...this.instances.values()].filter((i) => i.phase === "ready");
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
