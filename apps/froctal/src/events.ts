/**
 * `froctal events`: the manager's decision timeline (its journal), one line an
 * entry. The server side (`journalSince`, behind GET /events) numbers entries
 * from the journal's count of entries ever written, so a follower asks only
 * for what is new and learns when entries it never saw have been dropped.
 */
import type { JournalEntry, Manager } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";

export interface NumberedEntry extends JournalEntry {
  /** 1 for the first entry the manager ever wrote. */
  readonly seq: number;
}

export interface EventsPage {
  /** Entries written so far: the next page starts after this. */
  readonly written: number;
  /** The kept entries numbered above `after`, oldest first. */
  readonly entries: readonly NumberedEntry[];
}

/** The manager's journal as /events reads it: what it keeps, and how many entries it ever wrote. */
export type KeptJournal = Pick<Manager["journal"], "stats" | "recent">;

export function journalSince(journal: KeptJournal, after: number): EventsPage {
  const { written } = journal.stats;
  const kept = journal.recent();
  const first = written - kept.length + 1;
  const from = Math.max(0, after + 1 - first);
  return { written, entries: kept.slice(from).map((e, i) => ({ seq: first + from + i, ...e })) };
}

export async function fetchEvents(baseUrl: string, after: number, timeoutMs = 3_000): Promise<EventsPage> {
  const url = new URL(`/events?after=${after}`, baseUrl);
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new FroctalError("FROCTAL_E_TRANSPORT", `no manager answered at ${baseUrl}: is \`froctal up\` running?`, {
      cause,
    });
  }
  if (!res.ok) throw new FroctalError("FROCTAL_E_TRANSPORT", `${baseUrl}/events answered HTTP ${res.status}`);
  return (await res.json()) as EventsPage;
}

/** One line: UTC time to the millisecond (as `froctal status` prints times), kind, what was decided and why. */
export function renderEvent(e: JournalEntry): string {
  return `${new Date(e.at).toISOString()}  ${e.kind.padEnd(7)}  ${e.message}`;
}

export interface EventsOptions {
  readonly follow: boolean;
  /** How often --follow asks for new entries, ms. */
  readonly pollMs?: number;
  /** Ends --follow (SIGINT): the poll in progress finishes, nothing more is printed. */
  readonly signal?: AbortSignal;
  readonly write: (line: string) => void;
}

/** Prints every kept entry; with follow, then every new one until the signal aborts. */
export async function printEvents(baseUrl: string, options: EventsOptions): Promise<void> {
  const { follow, signal, write } = options;
  let after = 0;
  for (;;) {
    const page = await fetchEvents(baseUrl, after);
    if (signal?.aborted) return;
    const first = page.entries[0];
    // Entries written and dropped from the journal between two polls are said, not silently skipped.
    if (after > 0 && first !== undefined && first.seq > after + 1) {
      write(`(${first.seq - after - 1} entries were dropped from the journal before they could be shown)`);
    }
    for (const e of page.entries) write(renderEvent(e));
    after = page.written;
    if (!follow) return;
    if (await aborted(signal, options.pollMs ?? 500)) return;
  }
}

/** Waits ms; true if the signal aborted first (or already had). */
function aborted(signal: AbortSignal | undefined, ms: number): Promise<boolean> {
  return new Promise((done) => {
    if (signal?.aborted) return done(true);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      done(false);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      done(true);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
