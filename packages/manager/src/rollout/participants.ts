/**
 * Who takes part in the next configuration generation: the connected
 * instances whose desired configuration (derived per instance from the
 * service's `config` policy) differs from what they committed. Each
 * instance's desired configuration is a computed of its own, so a tick in
 * which one guest confirms a commit re-derives nothing for the thousand
 * others; a gone instance's computed is released at once (release()).
 * With a network driver, the network is one more participant: its desired
 * state is the fleet's `network` policy, derived the same way.
 */
import { computed, type IComputedValue } from "mobx";
import { canonicalJson } from "../canonical-json.js";
import type { ServiceSpec } from "../policy/fleet.js";
import type { Autoscaler } from "../scale/autoscaler.js";
import type { Instance } from "../store/instance.js";
import type { FleetStore } from "../store/store.js";
import type { NetworkParty } from "./network.js";
import type { Participant } from "./rollout.js";

export class Participants {
  private readonly desired = new Map<Instance, IComputedValue<string | undefined>>();

  /** The network's desired state as canonical JSON (undefined while its policy throws). */
  private readonly network: IComputedValue<string | undefined> | undefined;

  constructor(
    private readonly store: FleetStore,
    private readonly autoscaler: Autoscaler,
    private readonly networkParty?: NetworkParty,
  ) {
    const policy = store.spec.network;
    if (networkParty !== undefined && policy !== undefined) {
      this.network = computed(() => autoscaler.guardNetwork(() => canonicalJson(policy(store))));
    }
  }

  /** Instances whose desired configuration differs from what they committed (tracked: read in a reaction). */
  list(): Participant[] {
    return [...this.pending()];
  }

  /** Whether every guest runs the configuration the fleet wants for it; stops at the first that does not (tracked). */
  settled(): boolean {
    return this.pending().next().done === true;
  }

  private *pending(): Generator<Participant> {
    const network = this.network?.get();
    if (network !== undefined && network !== this.networkParty!.committedJson) {
      yield { party: this.networkParty!, json: network };
    }
    for (const service of this.store.services.values()) {
      const config = service.spec.config;
      if (config === undefined) continue;
      for (const instance of service.instances.values()) {
        // Only connected guests can take part; one that connects later gets its configuration then.
        if (!instance.connected || (instance.phase !== "ready" && instance.phase !== "starting")) continue;
        const json = this.desiredJson(instance, config);
        if (json !== undefined && json !== instance.committedJson) yield { party: instance, json };
      }
    }
  }

  /** Forgets a gone instance's derivation. */
  release(instance: Instance): void {
    this.desired.delete(instance);
  }

  /** An instance's desired configuration as canonical JSON; undefined while its policy throws. */
  private desiredJson(instance: Instance, config: NonNullable<ServiceSpec["config"]>): string | undefined {
    let desired = this.desired.get(instance);
    if (desired === undefined) {
      const runtime = this.autoscaler.runtime(instance.service);
      desired = computed(() => this.autoscaler.guard(runtime, () => canonicalJson(config(this.store, instance))));
      this.desired.set(instance, desired);
    }
    return desired.get();
  }
}

/** Two rounds are the same when the epoch and every participant (party and configuration) are. */
export function sameRound(
  a: { epoch: number; participants: readonly Participant[] },
  b: { epoch: number; participants: readonly Participant[] },
): boolean {
  if (a.epoch !== b.epoch || a.participants.length !== b.participants.length) return false;
  return a.participants.every((p, i) => p.party === b.participants[i]!.party && p.json === b.participants[i]!.json);
}
