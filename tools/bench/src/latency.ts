/**
 * Benchmark 4 (issue "manager" (c)): latency from a signal to the action it
 * causes, under background load. The manager runs on the real clock, wired as
 * `froctal up` wires it (tickMs 2). A thousand instances, joined in process
 * through manager.ingest, send 100,000 signals/s of gauges in the background;
 * one of them reports "demand", which the replicas function turns into
 * replicas. Each trial raises the demand by one replica and measures from the
 * ingest.batch() call that carries it to the Driver's start() call for the
 * new instance. The same trials on an idle manager are the baseline.
 */

import { performance } from "node:perf_hooks";
import { Manager } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { type Batch, MetricKind } from "@froctal/protocol";
import { CountingDriver, type CountingSession } from "@froctal/testkit";
import type { Report } from "./figures.js";
import { benchFleet, join, type Launched, launched, metricNames, sampleBatch } from "./fleet.js";
import { nextTurn, percentile, sleep, waitFor } from "./measure.js";

const BACKGROUND_INSTANCES = 1_000;
const BACKGROUND_RATE = 100_000;
const SAMPLES_PER_BATCH = 10;
/** As `froctal up` runs the manager. */
const TICK_MS = 2;
const TRIALS = 400;
const WARMUP_TRIALS = 30;
const TARGET_P99_MS = 5;
/** Metric ids: the background metrics are 1..10 ("load" first); the trigger declares "demand" as 11. */
const NAMES = metricNames(SAMPLES_PER_BATCH);
const DEMAND = { id: NAMES.length + 1, name: "demand", kind: MetricKind.METRIC_KIND_GAUGE, unit: "" };

export async function latency(report: Report): Promise<void> {
  report.say(
    `${BACKGROUND_INSTANCES} instances, tickMs ${TICK_MS}, real clock; ${TRIALS} trials, each: one batch raising ` +
      `"demand" by a replica -> driver.start(); background ${BACKGROUND_RATE.toLocaleString("en-US")} signals/s in batches of ${SAMPLES_PER_BATCH}`,
  );
  const idle = await trials(0);
  const loaded = await trials(BACKGROUND_RATE);
  report.add("idle: p50", idle.p50, "ms");
  report.add("idle: p99", idle.p99, "ms");
  report.add("under load: p50", loaded.p50, "ms");
  report.add("under load: p99", loaded.p99, "ms", {
    target: { cmp: "<=", value: TARGET_P99_MS },
    note: `max ${loaded.max.toFixed(1)} ms; background reached ${Math.round(loaded.background).toLocaleString("en-US")} signals/s`,
  });
  report.add("under load / idle, p99", loaded.p99 / idle.p99, "times");
}

interface Result {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  /** Background signals/s actually delivered while the trials ran. */
  readonly background: number;
}

async function trials(backgroundRate: number): Promise<Result> {
  const specs: Launched[] = [];
  let startedAt: number | undefined;
  const driver = new CountingDriver((spec) => {
    startedAt ??= performance.now();
    specs.push(launched(spec));
  });
  const manager = new Manager({
    fleet: benchFleet({
      replicas: (s) => BACKGROUND_INSTANCES + Math.round(s.metric("demand").sum),
      loadMetric: "load",
    }),
    driver,
    clock: systemClock,
    managerUrl: "ws://127.0.0.1:9/agent",
    tickMs: TICK_MS,
  });
  let running = true;
  let sent = 0;
  try {
    manager.start();
    await waitFor(() => specs.length === BACKGROUND_INSTANCES, 20_000, "the background instances to start");
    const sessions: CountingSession[] = specs.map((l) => join(manager, l, NAMES));
    const instances = [...manager.store.instances.values()];
    await waitFor(() => instances.every((i) => i.phase === "ready"), 10_000, "the background instances to be ready");
    const trigger = sessions[0]!;

    // The background: paced against the wall clock, a millisecond at a time, round-robin over the instances.
    const bg: Batch[] = [2, 3].map((base) => sampleBatch(SAMPLES_PER_BATCH, (i) => base + i / 100));
    let cursor = 0;
    const t0 = performance.now();
    const background = async () => {
      while (running && backgroundRate > 0) {
        const due = Math.min(
          Math.floor(((performance.now() - t0) * backgroundRate) / 1000 / SAMPLES_PER_BATCH),
          // Never more than 50 ms behind: a stall is not made up in one burst.
          Math.floor(sent / SAMPLES_PER_BATCH) + (backgroundRate * 0.05) / SAMPLES_PER_BATCH,
        );
        for (let k = Math.floor(sent / SAMPLES_PER_BATCH); k < due; k++) {
          const i = cursor++;
          manager.ingest.batch(sessions[i % sessions.length]!, bg[Math.floor(i / sessions.length) % 2]!);
          sent += SAMPLES_PER_BATCH;
        }
        await sleep(1);
      }
    };
    const loop = background();

    const latencies: number[] = [];
    let sent0 = 0;
    let tTrials = performance.now();
    for (let trial = 1; trial <= WARMUP_TRIALS + TRIALS; trial++) {
      if (trial === WARMUP_TRIALS + 1) {
        sent0 = sent;
        tTrials = performance.now();
      }
      // Off the tick grid: a trial lands anywhere within a tick window.
      await sleep(1 + Math.floor(Math.random() * 4));
      const demand: Batch = {
        firstSeq: 0,
        events: [],
        metricDecls: [DEMAND],
        metricIds: [DEMAND.id],
        metricValues: [trial],
        sentAtMs: 0,
      };
      startedAt = undefined;
      const before = driver.starts;
      const t = performance.now();
      manager.ingest.batch(trigger, demand);
      await waitFor(() => driver.starts > before, 5_000, `trial ${trial}'s start`);
      if (trial > WARMUP_TRIALS) latencies.push(startedAt! - t);
      await nextTurn();
    }
    const backgroundPerSec = ((sent - sent0) * 1000) / (performance.now() - tTrials);
    running = false;
    await loop;
    latencies.sort((a, b) => a - b);
    return {
      p50: percentile(latencies, 50),
      p99: percentile(latencies, 99),
      max: latencies[latencies.length - 1] ?? Number.NaN,
      background: backgroundPerSec,
    };
  } finally {
    running = false;
    manager.close();
  }
}
