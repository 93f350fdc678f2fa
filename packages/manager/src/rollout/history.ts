/** The recent rollout outcomes (bounded) for status, each journaled as it is recorded. */
import type { JournalEntry } from "../journal.js";
import type { RolloutOutcome } from "./rollout.js";

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

/** One line for the journal: what the generation did, and for whom it did not. */
export function describeOutcome(outcome: RolloutOutcome): string {
  const g = `generation ${outcome.generation}`;
  if (outcome.result === "aborted") return `${g} aborted on ${outcome.instances.join(", ")}: ${outcome.reason}`;
  const committed = outcome.results.filter((r) => r.result === "committed").map((r) => r.instance);
  const parts = [`${g} committed on ${committed.length > 0 ? committed.join(", ") : "no instance"}`];
  for (const r of outcome.results) {
    switch (r.result) {
      case "committed":
        break;
      case "failed":
        parts.push(`${r.instance} did not commit it and runs generation ${r.running}: ${r.reason}`);
        break;
      case "unconfirmed":
        parts.push(`${r.instance} has not confirmed it (${r.reason})`);
        break;
    }
  }
  return parts.join("; ");
}
