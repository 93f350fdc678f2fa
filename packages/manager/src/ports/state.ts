/**
 * The State port: what must survive a manager restart, and nothing else.
 * Facts the fleet re-reports (metrics, devices, load) are not stored; they
 * come back with the agents. First implementation: SQLite in the manager's
 * state directory (@froctal/state-sqlite); the same port is meant for etcd.
 *
 * Writes are issued from inside ticks and must not make the tick wait: an
 * implementation applies them in order, each atomically, and may do so
 * synchronously (SQLite) or in the background (etcd), reporting failures
 * through `onError`. Generation numbers are reserved in blocks well ahead of
 * use, and flushed in the background, so a restart never reuses one even if
 * the writes of the last moments before a power loss were lost. Instance
 * ordinals are marked exactly (ids stay contiguous), each mark written before
 * the record of the instance it covers, so no record is durable without it.
 */

/** One instance the manager launched and has not yet seen gone. */
export interface InstanceRecord {
  readonly id: string;
  readonly service: string;
  readonly ordinal: number;
  /** The per-instance token it was launched with (the state file is private to the manager). */
  readonly token: string;
  /** Last phase the manager recorded, for re-adoption ("starting", "ready", "draining"...). */
  readonly phase: string;
  /** The generation and configuration (canonical JSON) the guest confirmed it runs; 0 and "" when none. */
  readonly generation: number;
  readonly configJson: string;
}

export interface FleetState {
  /**
   * The fleet's id (FleetIdentity.id in ports/driver.ts): 128 random bits as
   * 32 lowercase hex digits, made the first time the store loads the fleet
   * and the same at every load after.
   */
  readonly fleetId: string;
  /**
   * 256 random bits as 64 lowercase hex digits, made with the fleet id and kept
   * as long: each host's credential is derived from it (see driver-hosts).
   */
  readonly hostSecret: string;
  /** The ids of the hosts that ever joined the fleet: a restart waits for them before deciding what is gone. */
  readonly hosts: readonly string[];
  /** No generation at or below this has been or will be handed out again. */
  readonly reservedGeneration: number;
  /**
   * The highest instance ordinal ever handed out (0 when never written): a
   * restart continues after it, so no new guest gets the id (`<service>-<ordinal>`)
   * of an earlier one, even one stopped and forgotten long ago.
   */
  readonly lastOrdinal: number;
  readonly instances: readonly InstanceRecord[];
}

export interface StateStore {
  /**
   * Reads everything stored for a fleet (once, at start). A fleet the store
   * has no id for yet (its first `froctal up`) is given one here, and the id
   * is durable (flushed) before load returns: nothing may be launched under an
   * id a restart would not find, since what carries no known id is never stopped.
   */
  load(fleet: string): FleetState | Promise<FleetState>;
  /** Records that generations up to `upTo` may be in use. Atomic; only ever raises the mark. */
  reserveGenerations(fleet: string, upTo: number): void;
  /**
   * Records that instance ordinals up to `upTo` have been handed out. Atomic;
   * only ever raises the mark. Written before the record of the instance it
   * covers, and applied in order with it.
   */
  reserveOrdinals(fleet: string, upTo: number): void;
  /** Creates or replaces an instance's record. Atomic. */
  putInstance(fleet: string, record: InstanceRecord): void;
  /** Forgets an instance that is gone. Atomic; no-op if unknown. */
  deleteInstance(fleet: string, instanceId: string): void;
  /** Records that a host joined the fleet. Atomic; no-op if known. */
  putHost(fleet: string, hostId: string): void;
  /** Waits until every write issued so far is durable. */
  flush(): Promise<void>;
  close(): Promise<void>;
}
