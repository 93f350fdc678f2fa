/**
 * What the manager writes to the State port, and how it copes when a write
 * fails: instance records as their durable facts change, generation
 * reservations ahead of use, the highest instance ordinal handed out (before
 * the record of the instance that has it). A failed write is journaled and
 * the fleet carries on: durability degrades, control does not stop.
 */
import type { Clock } from "@froctal/primitives";
import type { JournalEntry } from "../journal.js";
import type { InstancePhase } from "../policy/fleet.js";
import type { InstanceRecord, StateStore } from "../ports/state.js";
import type { Instance } from "../store/instance.js";

/** Generations are made durable this many at a time, ahead of use. */
export const GENERATION_BLOCK = 1000;

/** The moves that bring a re-adopted instance from "requested" to the phase it was recorded in. */
export const ADOPTION_PATH: Readonly<Record<string, readonly InstancePhase[]>> = {
  requested: ["starting"],
  starting: ["starting"],
  ready: ["starting", "ready"],
  draining: ["starting", "draining"],
  stopping: ["stopping"],
  failed: ["failed"],
};

export class Durability {
  /** Generations at or below this are reserved in the State port. */
  reservedGeneration = 0;
  /** Instance ordinals at or below this are marked as handed out in the State port. */
  reservedOrdinal = 0;

  constructor(
    private readonly state: StateStore | undefined,
    private readonly fleet: string,
    private readonly clock: Clock,
    private readonly journal: (entry: JournalEntry) => void,
  ) {}

  /**
   * Writes the durable facts of instances that changed (phase, committed
   * configuration); first, when a new instance is among them, the mark of the
   * highest ordinal handed out. The mark is exact, not a block: ids stay
   * contiguous across restarts. Being written first, in order, no record can
   * be durable without its ordinal being covered.
   */
  persist(changed: readonly Instance[]): void {
    const state = this.state;
    if (state === undefined) return;
    let highest = 0;
    for (const i of changed) highest = Math.max(highest, i.ordinal);
    this.reserveOrdinals(highest);
    for (const i of changed) {
      this.write(() => {
        if (i.phase === "gone") state.deleteInstance(this.fleet, i.id);
        else state.putInstance(this.fleet, recordOf(i));
      });
    }
  }

  /**
   * Marks ordinals up to `ordinal` as handed out, if the mark is lower. A mark
   * whose write failed is written again with the next new instance's.
   */
  reserveOrdinals(ordinal: number): void {
    if (ordinal <= this.reservedOrdinal) return;
    this.reservedOrdinal = ordinal;
    this.write(() => this.state?.reserveOrdinals(this.fleet, ordinal));
  }

  /** Forgets the record of an instance that is gone. */
  forget(instanceId: string): void {
    this.write(() => this.state?.deleteInstance(this.fleet, instanceId));
  }

  /**
   * Keeps the durable reservation at least half a block ahead of the
   * generations in use, and asks for it to be made durable in the background:
   * by the time a generation is handed out, its reservation has long been on disk.
   */
  reserve(generation: number): void {
    if (generation <= this.reservedGeneration - GENERATION_BLOCK / 2) return;
    this.reservedGeneration = generation + GENERATION_BLOCK;
    const state = this.state;
    if (state === undefined) return;
    this.write(() => state.reserveGenerations(this.fleet, this.reservedGeneration));
    state.flush().catch((error: unknown) =>
      this.write(() => {
        throw error;
      }),
    );
  }

  /** A failed state write must not stop the control plane: it is journaled, and the fleet carries on. */
  private write(write: () => void): void {
    try {
      write();
    } catch (error) {
      const message = `a state write failed (${error instanceof Error ? error.message : String(error)}); this may be lost on restart`;
      this.journal({ at: this.clock.wallNow(), kind: "failed", message });
    }
  }
}

function recordOf(i: Instance): InstanceRecord {
  return {
    id: i.id,
    service: i.service,
    ordinal: i.ordinal,
    token: i.token,
    phase: i.phase,
    generation: i.generation,
    configJson: i.committedJson,
  };
}
