/** The plain snapshot `froctal status` and the HTTP API show: facts and decisions, no live objects. */
import type { JournalEntry } from "./journal.js";
import type { RolloutInFlight, RolloutOutcome } from "./rollout/rollout.js";

export interface ManagerStatus {
  readonly fleet: string;
  readonly generation: number;
  readonly services: readonly {
    readonly name: string;
    readonly target: number;
    readonly recommended: number;
    readonly why: string;
    readonly instances: readonly {
      readonly id: string;
      readonly phase: string;
      readonly generation: number;
      readonly connected: boolean;
      readonly load: number | null;
      readonly devices: readonly unknown[];
      /** What the guest reported as its "endpoint" fact, if anything. */
      readonly endpoint: unknown;
      /** The latest payload of each application event the guest sent, by name. */
      readonly facts: Readonly<Record<string, unknown>>;
      readonly failure?: string;
    }[];
  }[];
  readonly rollouts: readonly RolloutOutcome[];
  /** The generation in flight, if one is. */
  readonly rollout: RolloutInFlight | null;
  readonly journal: readonly JournalEntry[];
}
