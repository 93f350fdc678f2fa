/** What the manager decided and why: printed by the CLI, kept (bounded) for `froctal status`. */
export interface JournalEntry {
  /** Wall time, epoch ms (clock.wallNow()): entries leave the process; durations use clock.now(). */
  readonly at: number;
  readonly kind: "scale" | "start" | "drain" | "stop" | "ready" | "gone" | "failed" | "rollout" | "session";
  readonly service?: string;
  readonly instance?: string;
  readonly message: string;
}

export class Journal {
  private readonly entries: JournalEntry[] = [];
  /** Entries ever written: the last kept entry is number `written` (from 1), so a reader can ask for what is new. */
  readonly stats = { written: 0 };

  constructor(
    private readonly capacity: number,
    private readonly listener: ((entry: JournalEntry) => void) | undefined,
  ) {}

  write(entry: JournalEntry): void {
    this.entries.push(entry);
    this.stats.written++;
    if (this.entries.length > this.capacity) this.entries.splice(0, this.entries.length - this.capacity);
    this.listener?.(entry);
  }

  recent(n = this.capacity): readonly JournalEntry[] {
    return this.entries.slice(-n);
  }
}

/** An entry about one instance. */
export function entryFor(
  at: number,
  kind: JournalEntry["kind"],
  instance: { readonly id: string; readonly service: string },
  message: string,
): JournalEntry {
  return { at, kind, service: instance.service, instance: instance.id, message };
}
