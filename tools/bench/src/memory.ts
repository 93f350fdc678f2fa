/**
 * Benchmark 5 (issue "manager" (d)): heap per tracked idle instance. The
 * manager, on the real clock, starts 100,000 instances through a Driver that
 * only records; each is admitted, opened and sends one batch (ready and ten
 * gauges) through manager.ingest, as over a real connection. The figure is the
 * growth of process.memoryUsage().heapUsed after full collections, divided by
 * the instance count, measured twice: while each instance's start deadline is
 * still pending (a timer each), and once those deadlines have passed, which is
 * the steady state of an idle instance. Each instance's session object (a
 * CountingSession, standing in for the server's AgentSession, which the store
 * keeps while the guest is connected) is counted; the connection behind it,
 * which lives in the server and not in the store, is not.
 */

import { performance } from "node:perf_hooks";
import { Manager } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { CountingDriver } from "@froctal/testkit";
import type { Report } from "./figures.js";
import { benchFleet, join, type Launched, launched, metricNames } from "./fleet.js";
import { nextTurn, sleep, waitFor } from "./measure.js";

const INSTANCES = 100_000;
const METRICS = metricNames(10);
/** Past it, the steady state: every instance is ready well before (setting up 100,000 takes ~20 s here). */
const START_TIMEOUT_MS = 40_000;
const TARGET_BYTES = 4 * 1024;

type Gc = () => void;

export async function memory(report: Report): Promise<void> {
  const gc = (globalThis as { gc?: Gc }).gc;
  if (gc === undefined) {
    report.say("skipped: run with node --expose-gc (main.js does)");
    return;
  }
  const heap = async () => {
    // A few rounds: finalizers and weak maps let go of more on the second pass.
    for (let i = 0; i < 3; i++) {
      gc();
      await nextTurn();
    }
    return process.memoryUsage().heapUsed;
  };

  let specs: Launched[] = [];
  const driver = new CountingDriver((spec) => specs.push(launched(spec)));
  const manager = new Manager({
    // In steps, as a fleet grows: the executor's queue stays short (a 100,000-long one costs quadratic time to drain).
    fleet: benchFleet({ replicas: () => INSTANCES, startTimeoutMs: START_TIMEOUT_MS, maxStepUp: 10_000 }),
    driver,
    clock: systemClock,
    managerUrl: "ws://127.0.0.1:9/agent",
    tickMs: 0,
  });
  try {
    const before = await heap();
    const started = performance.now();
    manager.start();
    await waitFor(() => manager.stats.executor.succeeded === INSTANCES, 50_000, "the manager to start every instance");
    let joined = 0;
    for (const l of specs) {
      join(manager, l, METRICS);
      if (++joined % 5_000 === 0) await nextTurn();
    }
    specs = [];
    const instances = [...manager.store.instances.values()];
    await waitFor(() => instances.every((i) => i.phase === "ready"), 20_000, "every instance to be ready");
    instances.length = 0;
    const setupMs = performance.now() - started;
    const pending = (await heap()) - before;
    // Past every start deadline: the timers have fired (into a no-op: the instances are ready) and are gone.
    await sleep(Math.max(0, START_TIMEOUT_MS + 500 - (performance.now() - started)));
    await waitFor(() => manager.stats.ticker.pending === 0, 5_000, "the expired deadlines to be applied");
    const steady = (await heap()) - before;
    const notReady = [...manager.store.instances.values()].filter((i) => i.phase !== "ready").length;
    if (manager.store.instances.size !== INSTANCES || notReady > 0) {
      report.say(`warning: ${manager.store.instances.size} instances tracked, ${notReady} of them not ready`);
    }
    report.say(
      `${INSTANCES.toLocaleString("en-US")} instances, each admitted with one batch of ${METRICS.length} gauges; ` +
        `set up in ${Math.round(setupMs)} ms; a session object each is counted, no connection`,
    );
    report.add("per idle instance, steady state", steady / INSTANCES, "bytes/instance", {
      target: { cmp: "<=", value: TARGET_BYTES },
    });
    report.add("per instance while its start deadline is pending", pending / INSTANCES, "bytes/instance", {
      note: "one timer per starting instance",
    });
  } finally {
    manager.close();
  }
}
