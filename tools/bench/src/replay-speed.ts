/**
 * Issue 11 ("Done means"): replay speed. A fleet of 1,000 instances runs in
 * process (tracked-fleet.ts) with `record` on, as `froctal up --record` runs
 * it, and every instance sends a gauge batch of 10 values each tick for 100
 * ticks; the records are encoded into a trace file in memory. The manager's
 * replay() then re-runs the same fleet on that file, decoding and checking it
 * as `froctal replay` does, and its signals/s is the figure (target >=
 * 1,000,000/s). The baseline, in the same run: the same batches ingested live
 * by a fleet that does not record (its ingest and ticks only). Two splits say
 * where replay's time goes: reading the file alone (decode + contract check,
 * which replay does twice: once for the tokens), and replay on inputs already
 * decoded.
 */
import { performance } from "node:perf_hooks";
import { type JournalEntry, replay } from "@froctal/manager";
import { encodeTraceHeader, encodeTraceRecord, readTrace, type TraceInput } from "@froctal/protocol";
import type { Report } from "./figures.js";
import { benchFleet, sampleBatch } from "./fleet.js";
import { median } from "./measure.js";
import { METRICS, trackedFleet } from "./tracked-fleet.js";

const INSTANCES = 1_000;
/** Ticks of gauges; in each, one batch from every instance. */
const TICKS = 100;
/** Virtual ms between ticks, so the trace's times move as a live run's do. */
const TICK_EVERY_MS = 100;
const ROUNDS = 5;
const NONCE_TAG = "bench";
const DECISIONS = new Set<JournalEntry["kind"]>(["scale", "start", "drain", "stop", "rollout"]);

export async function replaySpeed(report: Report): Promise<void> {
  report.say(
    `${INSTANCES.toLocaleString("en-US")} instances, ${TICKS} ticks of one batch of ${METRICS.length} gauges from each; ` +
      `median of ${ROUNDS} rounds`,
  );
  const recorded = await gaugeRun(true);
  const bytes = recorded.trace!;
  const trace = readTrace(bytes);
  const signals = signalsOf(trace.inputs());
  const decoded = [...trace.inputs()];
  const start = { ...trace.header, adopted: trace.header.adopted };
  const fleet = benchFleet({ replicas: INSTANCES });

  const live: number[] = [];
  for (let r = 0; r < ROUNDS; r++) live.push((await gaugeRun(false)).ms);
  const read: number[] = [];
  const whole: number[] = [];
  const onDecoded: number[] = [];
  const setup: number[] = [];
  // The trace up to the first gauge tick: 1,000 starts settled, 1,000 joins; its replay is timed apart.
  const prefix = bytes.subarray(0, recorded.gaugesAt);
  let same = true;
  for (let r = 0; r < ROUNDS; r++) {
    let t = performance.now();
    signalsOf(readTrace(bytes).inputs());
    read.push(performance.now() - t);
    t = performance.now();
    const replayed = await replay({ fleet, start, inputs: () => readTrace(bytes).inputs() });
    whole.push(performance.now() - t);
    same &&= sameDecisions(replayed.journal, recorded.journal) && replayed.ticks === recorded.ticks;
    t = performance.now();
    await replay({ fleet, start, inputs: () => decoded });
    onDecoded.push(performance.now() - t);
    t = performance.now();
    await replay({ fleet, start, inputs: () => readTrace(prefix).inputs() });
    setup.push(performance.now() - t);
  }
  const liveRate = (TICKS * INSTANCES * METRICS.length) / (median(live) / 1_000);
  const replayRate = signals / (median(whole) / 1_000);
  report.say(
    `trace: ${bytes.length.toLocaleString("en-US")} bytes, ${decoded.length.toLocaleString("en-US")} records, ` +
      `${signals.toLocaleString("en-US")} signals, ${recorded.ticks} ticks; replayed decisions ${same ? "equal" : "DIFFER FROM"} the live run's`,
  );
  report.add("replay (read, check and re-run the trace)", replayRate, "signals/s", {
    target: { cmp: ">=", value: 1_000_000 },
    note: `${median(whole).toFixed(0)} ms for the whole trace, setup included`,
  });
  report.add("live ingest, not recording (baseline)", liveRate, "signals/s", {
    note: `${TICKS} ticks of gauges, ingest + tick`,
  });
  const gaugeSignals = TICKS * INSTANCES * METRICS.length;
  const gaugeRate = gaugeSignals / ((median(whole) - median(setup)) / 1_000);
  report.add("replay of the gauge ticks alone", gaugeRate, "signals/s", {
    note: `the whole trace's median less the setup's (${median(setup).toFixed(0)} ms: ${INSTANCES} starts and joins)`,
  });
  report.add("replay / live ingest (the gauge ticks)", gaugeRate / liveRate, "times");
  report.add("reading the trace alone (decode + contract check)", signals / (median(read) / 1_000), "signals/s", {
    note: "replay reads it twice",
  });
  report.add("replay on inputs already decoded", signals / (median(onDecoded) / 1_000), "signals/s");
  report.add("live ingest while recording", recorded.signalsPerSecond, "signals/s", {
    note: "one round: it also makes the trace",
  });
}

interface GaugeRun {
  /** ms the gauge ticks took: ingest and tick, and recording when on. */
  readonly ms: number;
  readonly signalsPerSecond: number;
  readonly trace?: Uint8Array;
  /** The trace's byte offset where the gauge ticks begin. */
  readonly gaugesAt: number;
  readonly journal: readonly JournalEntry[];
  readonly ticks: number;
}

/** A tracked fleet (recording or not) and TICKS ticks of gauges from every instance, timed. */
async function gaugeRun(record: boolean): Promise<GaugeRun> {
  const records: Uint8Array[] = [];
  const journal: JournalEntry[] = [];
  let ticks = 0;
  const fleet = await trackedFleet({
    instances: INSTANCES,
    nonceTag: NONCE_TAG,
    onJournal: (e) => journal.push(e),
    ...(record
      ? {
          record: (r) => {
            if (r.tick !== undefined) ticks++;
            records.push(encodeTraceRecord(r));
          },
        }
      : {}),
  });
  const { manager, clock, sessions } = fleet;
  // Two value sets, so every batch changes every value it carries (an unchanged value costs less).
  const batches = [2, 3].map((base) => sampleBatch(METRICS.length, (i) => base + i / 100));
  try {
    let gaugesAt = 0;
    for (const r of records) gaugesAt += r.length;
    const t = performance.now();
    for (let k = 0; k < TICKS; k++) {
      const batch = batches[k % 2]!;
      for (const session of sessions) manager.ingest.batch(session, batch);
      clock.advance(TICK_EVERY_MS);
    }
    const ms = performance.now() - t;
    const signalsPerSecond = (TICKS * INSTANCES * METRICS.length) / (ms / 1_000);
    if (!record) return { ms, signalsPerSecond, journal, ticks, gaugesAt };
    const header = encodeTraceHeader({
      fleet: "bench",
      fleetId: manager.fleetId,
      nonceTag: NONCE_TAG,
      startedAt: 0,
      startedWall: 0,
    });
    gaugesAt += header.length;
    return { ms, signalsPerSecond, journal, ticks, gaugesAt, trace: Buffer.concat([header, ...records]) };
  } finally {
    fleet.close();
  }
}

/** Metric values and events in the trace's batches: what a guest sent, as the edge counts signals. */
function signalsOf(inputs: Iterable<TraceInput>): number {
  let n = 0;
  for (const i of inputs) if (i.kind === "batch") n += i.batch.metricValues.length + i.batch.events.length;
  return n;
}

function sameDecisions(a: readonly JournalEntry[], b: readonly JournalEntry[]): boolean {
  const of = (j: readonly JournalEntry[]) => JSON.stringify(j.filter((e) => DECISIONS.has(e.kind)));
  return of(a) === of(b);
}
