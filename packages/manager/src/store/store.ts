/**
 * The store: every observed fact about the fleet, written once, inside ticks.
 * Desired state is not stored here; it is derived (scale/, reconcile/, rollout/).
 */
import { type Batch, DeviceChange, type Event, FroctalError, type Lifecycle, LifecyclePhase } from "@froctal/protocol";
import { observable } from "mobx";
import type { FleetSpec, FleetView } from "../policy/fleet.js";
import type { Aggregate, MetricSlot } from "./aggregate.js";
import { Instance } from "./instance.js";
import { Service } from "./service.js";

/**
 * A session's metric ids to the instance's slots in the aggregates they feed.
 * An array, indexed by id: agents number their metrics 1, 2, 3..., and a
 * sample's lookup is then one indexed load, not a hash probe.
 */
export type SlotTable = (MetricSlot | undefined)[];

const utf8 = new TextDecoder();

export class FleetStore implements FleetView {
  readonly services = new Map<string, Service>();
  /** Observable (shallow): a policy that looks an instance up by id must re-run when it comes or goes. */
  readonly instances: Map<string, Instance> = observable.map<string, Instance>({}, { deep: false });
  private ordinal = 0;
  /** Aggregates changed during the current tick, published once at its end. */
  private readonly dirty: Aggregate[] = [];

  constructor(readonly spec: FleetSpec) {
    for (const [name, s] of Object.entries(spec.services)) this.services.set(name, new Service(name, s));
  }

  service(name: string): Service {
    const s = this.services.get(name);
    if (s === undefined) {
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `the fleet ${this.spec.name} has no service named ${JSON.stringify(name)}`,
      );
    }
    return s;
  }

  instance(id: string): Instance | undefined {
    return this.instances.get(id);
  }

  /** The ordinal the next new instance gets (the plan names its starts with it). */
  get nextOrdinal(): number {
    return this.ordinal + 1;
  }

  /**
   * Continues the ordinals after `ordinal` (never lowers them): at restart, the
   * highest one ever handed out, as the state kept it, so that no new instance
   * gets the id of an earlier one, stopped and forgotten or not.
   */
  resumeAfter(ordinal: number): void {
    this.ordinal = Math.max(this.ordinal, ordinal);
  }

  /** Instances whose durable facts changed since the last takeChanged(). */
  private readonly changed = new Set<Instance>();

  /**
   * Creates a requested instance of a service, with the next ordinal (or, when
   * re-adopting one, the id and ordinal it had). Call inside an action.
   */
  add(service: Service, token: string, now: number, adopted?: { id: string; ordinal: number }): Instance {
    const ordinal = adopted?.ordinal ?? this.ordinal + 1;
    this.ordinal = Math.max(this.ordinal, ordinal);
    const id = adopted?.id ?? `${service.name}-${ordinal}`;
    const instance = new Instance(id, service.name, ordinal, token, now, (i, from) => {
      this.changed.add(i);
      if (from !== i.phase) service.phaseChanged(i, from);
    });
    service.phaseChanged(instance, undefined);
    this.changed.add(instance);
    this.instances.set(instance.id, instance);
    service.instances.set(instance.id, instance);
    return instance;
  }

  /** Hands over (and forgets) the instances whose durable facts changed. */
  takeChanged(): Instance[] {
    const out = [...this.changed];
    this.changed.clear();
    return out;
  }

  /** Forgets a gone instance and its metric values. Call inside an action. */
  remove(instance: Instance): void {
    this.dirty.push(...instance.leaveAll());
    instance.session = undefined; // whatever its agent still sends is for nobody

    this.instances.delete(instance.id);
    this.services.get(instance.service)?.forget(instance);
  }

  /** Applies one batch's samples and events. Call inside the tick's action. */
  applyBatch(instance: Instance, batch: Batch, table: SlotTable, skip: number): void {
    const ids = batch.metricIds;
    const values = batch.metricValues;
    for (let i = 0; i < ids.length; i++) {
      const slot = table[ids[i]!];
      if (slot === undefined) continue; // counted at the edge, where the table is kept
      if (instance.sample(slot, values[i]!)) this.dirty.push(slot.aggregate);
    }
    const events = batch.events;
    for (let i = skip; i < events.length; i++) this.applyEvent(instance, events[i]!);
  }

  /** Publishes the tick's aggregate changes to derivations. Call at the end of the tick's action. */
  publish(): void {
    for (const agg of this.dirty) agg.publish();
    this.dirty.length = 0;
  }

  private applyEvent(instance: Instance, event: Event): void {
    switch (event.kind) {
      case "device": {
        const d = event.device;
        if (d.change === DeviceChange.DEVICE_CHANGE_REMOVED) instance.devices.delete(d.deviceId);
        else instance.devices.set(d.deviceId, { id: d.deviceId, kind: d.kind, properties: { ...d.properties } });
        return;
      }
      case "lifecycle":
        if (event.lifecycle.task === "") this.applyLifecycle(instance, event.lifecycle);
        else
          instance.setFact(`task:${event.lifecycle.task}`, event.lifecycle.result ?? { phase: event.lifecycle.phase });
        return;
      case "app":
        instance.setFact(event.app.name, decodePayload(event.app.payload, event.app.mediaType));
        return;
    }
  }

  private applyLifecycle(instance: Instance, l: Lifecycle): void {
    switch (l.phase) {
      case LifecyclePhase.LIFECYCLE_PHASE_STARTING:
        instance.moveTo("starting");
        return;
      case LifecyclePhase.LIFECYCLE_PHASE_READY:
        instance.moveTo("ready");
        return;
      case LifecyclePhase.LIFECYCLE_PHASE_DRAINING:
        instance.moveTo("draining");
        return;
      case LifecyclePhase.LIFECYCLE_PHASE_DRAINED:
        instance.drained = true;
        return;
      case LifecyclePhase.LIFECYCLE_PHASE_STOPPING:
      case LifecyclePhase.LIFECYCLE_PHASE_EXITED:
        // The driver reports the process's end; the agent saying so changes nothing the driver will not.
        return;
      default:
        return;
    }
  }
}

function decodePayload(payload: Uint8Array, mediaType: string): unknown {
  if (mediaType !== "" && mediaType !== "application/json") return payload;
  try {
    return JSON.parse(utf8.decode(payload));
  } catch {
    return payload;
  }
}
