/**
 * The page's one connection: an EventSource on the manager's stream, folded
 * into what the page shows. The timeline keeps entries by their journal
 * number, so it grows past the few each snapshot carries; each service keeps
 * its last HISTORY samples of load and ready count for the sparklines.
 */
import { useEffect, useState } from "preact/hooks";
import type { JournalLine, Snapshot } from "./snapshot.js";

const HISTORY = 120;
const TIMELINE = 200;

export interface Sample {
  readonly load: number;
  readonly ready: number;
}

export interface Live {
  readonly connected: boolean;
  readonly snapshot: Snapshot | null;
  readonly timeline: readonly JournalLine[];
  readonly history: ReadonlyMap<string, readonly Sample[]>;
}

export function useLive(): Live {
  const [live, setLive] = useState<Live>({ connected: false, snapshot: null, timeline: [], history: new Map() });
  useEffect(() => {
    // Bound beyond loopback, the manager asks for the token the page was opened with.
    const token = new URLSearchParams(location.search).get("token");
    const source = new EventSource(`/dashboard/stream${token === null ? "" : `?token=${encodeURIComponent(token)}`}`);
    source.onopen = () => setLive((l) => ({ ...l, connected: true }));
    source.onerror = () => setLive((l) => ({ ...l, connected: false }));
    source.onmessage = (event: MessageEvent<string>) => {
      const snapshot = JSON.parse(event.data) as Snapshot;
      setLive((l) => ({
        connected: true,
        snapshot,
        timeline: merge(l.timeline, snapshot.journal),
        history: sample(l.history, snapshot),
      }));
    };
    return () => source.close();
  }, []);
  return live;
}

function merge(kept: readonly JournalLine[], fresh: readonly JournalLine[]): readonly JournalLine[] {
  const last = kept.at(-1)?.seq ?? 0;
  const added = fresh.filter((e) => e.seq > last);
  // A manager restarted numbers from 1 again: start the timeline over.
  const first = fresh[0];
  if (first !== undefined && first.seq < (kept[0]?.seq ?? 0)) return fresh;
  return added.length === 0 ? kept : [...kept, ...added].slice(-TIMELINE);
}

function sample(history: ReadonlyMap<string, readonly Sample[]>, s: Snapshot): ReadonlyMap<string, readonly Sample[]> {
  const next = new Map<string, readonly Sample[]>();
  for (const svc of s.services) {
    const points = [...(history.get(svc.name) ?? []), { load: svc.load ?? 0, ready: svc.ready }];
    next.set(svc.name, points.slice(-HISTORY));
  }
  return next;
}
