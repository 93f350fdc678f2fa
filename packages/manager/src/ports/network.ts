/**
 * The Network port: how the rollout programs the network a fleet's `network`
 * policy derives (policy/fleet.ts: NetworkSpec). The network takes part in a
 * configuration generation as one participant beside the guests: prepare
 * checks and stages the change without touching traffic, commit applies it
 * at once (all of it or none), abort drops it. Without a network driver the
 * fleet runs as before (its load balancer guests carry the backend lists).
 * Between generations the driver holds the network on the last committed
 * state, level-triggered: what the switch lost (a restart) it applies again.
 */
import type { NetworkSpec } from "../policy/fleet.js";

export interface NetworkDriver {
  /** What it programs, for status and logs: "openvswitch bridge froctal0". */
  readonly description: string;
  /**
   * Checks `desired` (every instance it names must be on the network) and
   * stages it as `generation`, changing nothing that carries traffic. A
   * rejection (a FroctalError, with a sentence) aborts the generation everywhere.
   */
  prepare(generation: number, desired: NetworkSpec): Promise<void>;
  /**
   * Applies the staged generation atomically. A rejection means none of it was
   * applied: the network still runs the generation before, and the change is
   * offered again after a backoff.
   */
  commit(generation: number): Promise<void>;
  /** Drops a staged generation; nothing was applied. */
  abort(generation: number): void;
}

/** A guest's NIC on the network, made on its host before the guest starts. */
export interface GuestNic {
  /** The host's end: a tap device on the network's bridge, which the guest's virtual NIC opens (`managed='no'`). */
  readonly tap: string;
  /** The MAC the guest's NIC must have: the network's flows deliver to it. */
  readonly mac: string;
  /** The guest's address with its prefix length, `10.77.0.64/24`. */
  readonly address: string;
}

/**
 * A hypervisor driver's side of the network: a NIC for each guest, made
 * before its VM is created and removed once the VM is gone.
 */
export interface NicNetwork {
  /** Makes the instance's NIC (an instance that has one gets a new one); the guest must use it as given. */
  join(instanceId: string): Promise<GuestNic>;
  /** Removes the instance's NIC; idempotent. */
  leave(instanceId: string): Promise<void>;
}
