/** The recent rollout outcomes (bounded) for status, each journaled as it is recorded. */
import type { JournalEntry } from "../journal.js";
import { describeOutcome, type RolloutOutcome } from "./rollout.js";

export class RolloutHistory {
  private readonly kept: RolloutOutcome[] = [];

  constructor(
    private readonly journal: (entry: JournalEntry) => void,
    private readonly capacity = 100,
  ) {}

  get outcomes(): readonly RolloutOutcome[] {
    return this.kept;
  }

  record(outcome: RolloutOutcome): void {
    this.kept.push(outcome);
    if (this.kept.length > this.capacity) this.kept.shift();
    this.journal({ at: outcome.at, kind: "rollout", message: describeOutcome(outcome) });
  }
}
