/**
 * `froctal replay FILE [--fleet MODULE]`: runs a fleet policy again on a
 * recorded trace (@froctal/manager's replay) and prints its decisions. With
 * --fleet, it replays the recorded module too and prints where the two differ:
 * what the other policy would have decided instead, and when.
 */
import { resolve } from "node:path";
import { type JournalEntry, replay } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import { loadFleet } from "./load-fleet.js";
import { readTraceFile } from "./trace-file.js";

/** The journal kinds that are decisions; the rest (ready, gone, failed, session) are facts the trace already holds. */
const DECISIONS: ReadonlySet<JournalEntry["kind"]> = new Set(["scale", "start", "drain", "stop", "rollout"]);

export interface ReplayCommand {
  readonly file: string;
  readonly fleet?: string | undefined;
  readonly json?: boolean | undefined;
  readonly write: (line: string) => void;
}

/** Returns the number of decisions that differ (0 without --fleet). */
export async function runReplay(c: ReplayCommand): Promise<number> {
  const recorded = readTraceFile(c.file).header.fleetModule;
  if (c.fleet === undefined && recorded === "") {
    throw new FroctalError("FROCTAL_E_CONFIG", `${c.file} does not name its fleet module: give one with --fleet`);
  }
  const mine = await decisionsOf(c.file, c.fleet ?? recorded);
  const startedWall = readTraceFile(c.file).header.startedWall;
  const line = (prefix: string, e: JournalEntry) =>
    c.json ? JSON.stringify({ ...e, change: prefix.trim() || undefined }) : `${prefix}${render(e, startedWall)}`;
  if (c.fleet === undefined || resolve(c.fleet) === recorded) {
    for (const e of mine) c.write(line("", e));
    return 0;
  }
  const theirs = await decisionsOf(c.file, recorded);
  const changes = diff(theirs, mine);
  if (!c.json) c.write(`replaying ${c.file} with ${resolve(c.fleet)} instead of ${recorded}:`);
  for (const ch of changes) c.write(line(ch.side === "recorded" ? "- " : "+ ", ch.entry));
  if (!c.json) {
    c.write(
      changes.length === 0
        ? `the same ${mine.length} decisions`
        : `${changes.length} decisions differ ("-" decided by the recorded policy only, "+" by the other only)`,
    );
  }
  return changes.length;
}

async function decisionsOf(file: string, module: string): Promise<JournalEntry[]> {
  const { fleet } = await loadFleet(module);
  const trace = readTraceFile(file);
  const h = trace.header;
  const start = {
    fleetId: h.fleetId,
    nonceTag: h.nonceTag,
    startedAt: h.startedAt,
    startedWall: h.startedWall,
    reservedGeneration: h.reservedGeneration,
    lastOrdinal: h.lastOrdinal,
    adopted: h.adopted,
    network: h.network,
  };
  const { journal } = await replay({ fleet, start, inputs: () => trace.inputs() });
  return journal.filter((e) => DECISIONS.has(e.kind));
}

/** "+12.345s scale web: 1 -> 2 ..." with time since the recording started. */
export function render(e: JournalEntry, startedWall: number): string {
  const who = [e.service, e.instance].filter((w) => w !== undefined && w !== "").join(" ");
  return `+${((e.at - startedWall) / 1000).toFixed(3)}s ${e.kind}${who === "" ? "" : ` ${who}`}: ${e.message}`;
}

const keyOf = (e: JournalEntry) => `${e.kind}\u0000${e.service}\u0000${e.instance}\u0000${e.message}`;

/** Past this many cells the comparison is positional: a longest common subsequence would cost too much memory. */
const MAX_CELLS = 16_000_000;

/** The decisions only one side made, in time order (a longest common subsequence of the two). */
function diff(
  a: readonly JournalEntry[],
  b: readonly JournalEntry[],
): { side: "recorded" | "other"; entry: JournalEntry }[] {
  const out: { side: "recorded" | "other"; entry: JournalEntry }[] = [];
  const ka = a.map(keyOf);
  const kb = b.map(keyOf);
  const n = a.length;
  const m = b.length;
  if ((n + 1) * (m + 1) > MAX_CELLS) {
    for (let i = 0; i < Math.max(n, m); i++) {
      if (ka[i] === kb[i]) continue;
      if (i < n) out.push({ side: "recorded", entry: a[i]! });
      if (i < m) out.push({ side: "other", entry: b[i]! });
    }
    return out;
  }
  // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
  const lcs = new Uint32Array((n + 1) * (m + 1));
  const at = (i: number, j: number) => i * (m + 1) + j;
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[at(i, j)] = ka[i] === kb[j] ? lcs[at(i + 1, j + 1)]! + 1 : Math.max(lcs[at(i + 1, j)]!, lcs[at(i, j + 1)]!);
    }
  }
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && ka[i] === kb[j]) {
      i++;
      j++;
    } else if (j === m || (i < n && lcs[at(i + 1, j)]! >= lcs[at(i, j + 1)]!)) {
      out.push({ side: "recorded", entry: a[i++]! });
    } else {
      out.push({ side: "other", entry: b[j++]! });
    }
  }
  return out;
}
