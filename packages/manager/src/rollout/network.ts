/**
 * The network as one participant of configuration generations, beside the
 * guests: what it committed (observable, so the plan sees a backend leave),
 * and the nonce of the step in flight. Its steps go to the NetworkDriver
 * through execute/perform.ts (`networkStep`); its answers come back as tick
 * inputs ("networkAck") and reach the rollout as a guest's ConfigAck does.
 */
import { computed, makeObservable, observable, runInAction } from "mobx";
import type { NetworkSpec } from "../policy/fleet.js";
import type { NetworkDriver } from "../ports/network.js";
import type { Party } from "./rollout.js";

/** The id the network goes by in generations, outcomes and traces; no instance id looks like it (they end in -N). */
export const NETWORK_ID = "network";

export class NetworkParty implements Party {
  readonly id = NETWORK_ID;
  private committed: { readonly generation: number; readonly json: string } = { generation: 0, json: "" };

  constructor(readonly driver: NetworkDriver) {
    makeObservable<NetworkParty, "committed">(this, { committed: observable.ref, carried: computed });
  }

  get generation(): number {
    return this.committed.generation;
  }

  get committedJson(): string {
    return this.committed.json;
  }

  recordCommit(generation: number, json: string): void {
    runInAction(() => {
      this.committed = { generation, json };
    });
  }

  /**
   * Whether the committed network may still send new traffic to this instance
   * (a backend of a service, or a route's next hop). Until this manager's
   * first network commit the answer is yes for every instance: the switch may
   * still run what a manager before it committed (the driver keeps its flows
   * across a restart), so a drain waits for that commit, or its deadline.
   */
  carries(instanceId: string): boolean {
    return this.committed.json === "" || this.carried.has(instanceId);
  }

  get carried(): ReadonlySet<string> {
    const json = this.committed.json;
    if (json === "") return new Set();
    const spec = JSON.parse(json) as NetworkSpec;
    const ids = new Set<string>();
    for (const service of Object.values(spec.services ?? {})) for (const id of service.backends) ids.add(id);
    for (const route of spec.routes ?? []) ids.add(route.via);
    return ids;
  }
}
