import type { Clock } from "@froctal/primitives";
import type { JournalEntry } from "./journal.js";
import type { FleetSpec } from "./policy/fleet.js";
import type { Driver } from "./ports/driver.js";
import type { NetworkDriver } from "./ports/network.js";
import type { StateStore } from "./ports/state.js";
import type { Recorder } from "./record/record.js";

/** What a Manager is made of: the fleet, and the ports and clock it runs on. */
export interface ManagerOptions {
  readonly fleet: FleetSpec;
  readonly driver: Driver;
  /** Programs the network the fleet's `network` policy derives; a fleet with that policy needs one. */
  readonly network?: NetworkDriver;
  readonly clock: Clock;
  /**
   * Where guests reach the manager: handed to each guest as FROCTAL_MANAGER_URL.
   * A function is read at each launch (the addresses of standby managers change).
   */
  readonly managerUrl: string | (() => string);
  /** Makes a fresh per-instance token (default: 128 random bits from the platform's crypto). */
  readonly token?: () => string;
  /** Tick delay: inputs that arrive within it are applied together, ms (default 0: next turn). */
  readonly tickMs?: number;
  /** Receives every journal entry as it is written (the CLI prints them). */
  readonly onJournal?: (entry: JournalEntry) => void;
  readonly rolloutTimeoutMs?: number;
  /**
   * After a restart, how long the manager waits for the guests it adopted to
   * reconnect and re-report (load, endpoints, devices) before it scales in or
   * begins a rollout on what it has (default 15000 ms; see durable/resync.ts).
   */
  readonly resyncMs?: number;
  readonly concurrency?: number;
  /** Part of every rollout nonce (default: random, once per manager); a replay fixes it to repeat its frames. */
  readonly nonceTag?: string;
  /** Durable state (generations, instances, committed configs); without it nothing survives a restart. */
  readonly state?: StateStore;
  /**
   * The fleet's id when there is no `state` (default: made afresh for each
   * run); a replay fixes it so that its driver calls repeat. With a `state`
   * the id is the one kept there, and giving one here is refused.
   */
  readonly fleetId?: string;
  /**
   * Receives a trace record (proto/froctal/v1/trace.proto) for every tick input
   * from outside the core, every token made and every tick boundary, in order
   * (record/record.ts). Unset, recording costs nothing.
   */
  readonly record?: Recorder;
}
