/**
 * A manager core tracking N instances, in process and on a VirtualClock: the
 * manager starts them through a Driver that only records, and each one is
 * then admitted, opened and sends its first batch (ready, and one value of
 * each metric) through manager.ingest, as the server edge would on a real
 * connection. Ticks run when the benchmark says (tick()), so nothing but the
 * work being timed runs while it is timed.
 */

import { type JournalEntry, Manager, type Recorder } from "@froctal/manager";
import { VirtualClock } from "@froctal/primitives";
import { CountingDriver, type CountingSession } from "@froctal/testkit";
import { benchFleet, join, type Launched, launched, metricNames } from "./fleet.js";
import { nextTurn } from "./measure.js";

/** Metrics each instance reports: "load" (the fleet's load metric, read by the replicas function) and nine more. */
export const METRICS = metricNames(10);

export interface TrackedFleet {
  readonly manager: Manager;
  readonly clock: VirtualClock;
  readonly sessions: readonly CountingSession[];
  /** Runs the tick the ingest queued (the ticker's timer is due at once on the virtual clock). */
  tick(): void;
  close(): void;
}

export interface TrackedFleetOptions {
  readonly instances: number;
  /** The fleet's per-instance load metric ("load" unless null). */
  readonly loadMetric?: string | null;
  /** Admissions per tick while joining. */
  readonly joinChunk?: number;
  /** What the replicas function reads of "load" (default "sum"). */
  readonly reads?: "sum" | "max";
  /** Records what comes from outside, as `froctal up --record` does (the replay benchmark). */
  readonly record?: Recorder;
  /** The config nonces' tag: a replay must be given the recording's. */
  readonly nonceTag?: string;
  readonly onJournal?: (entry: JournalEntry) => void;
}

export async function trackedFleet(options: TrackedFleetOptions): Promise<TrackedFleet> {
  const n = options.instances;
  const clock = new VirtualClock();
  let specs: Launched[] = [];
  const driver = new CountingDriver((spec) => specs.push(launched(spec)));
  const manager = new Manager({
    fleet: benchFleet({ replicas: n, loadMetric: options.loadMetric, reads: options.reads ?? "sum" }),
    driver,
    clock,
    managerUrl: "ws://127.0.0.1:9/agent",
    tickMs: 0,
    ...(options.record === undefined ? {} : { record: options.record }),
    ...(options.nonceTag === undefined ? {} : { nonceTag: options.nonceTag }),
    ...(options.onJournal === undefined ? {} : { onJournal: options.onJournal }),
  });
  const tick = () => {
    clock.advance(0);
  };
  /** Lets the executor's promises settle and runs the ticks they queue; bounded. */
  const settle = async (done: () => boolean, what: string) => {
    for (let i = 0; i < 10_000; i++) {
      await nextTurn();
      tick();
      if (done() && manager.stats.ticker.pending === 0) return;
    }
    throw new Error(`the manager did not settle: ${what}`);
  };

  manager.start();
  await settle(() => driver.starts === n && manager.stats.executor.succeeded === n, `starting ${n} instances`);
  const chunk = options.joinChunk ?? 10_000;
  const sessions: CountingSession[] = [];
  for (const l of specs) {
    sessions.push(join(manager, l, METRICS));
    if (sessions.length % chunk === 0) tick();
  }
  specs = [];
  tick();
  const all = [...manager.store.instances.values()];
  await settle(() => all.every((i) => i.phase === "ready"), `${n} instances to be ready`);
  if (manager.store.instances.size !== n) {
    throw new Error(`the manager tracks ${manager.store.instances.size} instances, not ${n}`);
  }
  return { manager, clock, sessions, tick, close: () => manager.close() };
}
