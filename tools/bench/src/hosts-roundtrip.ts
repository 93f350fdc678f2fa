/**
 * Benchmark (issue "hosts"): an action's round trip from the manager to a
 * host's driver and its outcome back. One round trip is Driver.start of a new
 * instance id and then Driver.stop of it, awaited, through three paths:
 *   direct  a driver that launches nothing (CountingDriver), called as is: the baseline;
 *   local   HostsDriver with that driver joined in process (joinLocalHost): placement,
 *           action keys and their timeouts, no wire;
 *   ws      HostsDriver -> the real /host endpoint -> a loopback WebSocket -> a real
 *           HostDaemon (both ends in this process) -> that driver, and the outcome back.
 * The driver does nothing, so what is measured is froctal's own cost. The
 * paths take turns in rounds, so drift on a shared machine touches each alike;
 * first one at a time (latency), then 64 in flight (throughput).
 */
import { performance } from "node:perf_hooks";
import { HostsDriver, hostCredential, joinLocalHost } from "@froctal/driver-hosts";
import { HostDaemon } from "@froctal/host";
import type { Driver, LaunchSpec } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { CountingDriver } from "@froctal/testkit";
import type { Report } from "./figures.js";
import {
  HOST_INFO,
  HOST_SECRET,
  HOSTS_FLEET,
  HOSTS_IDENTITY,
  hostsLaunchSpec,
  hostsManager,
  inFlight,
} from "./hosts-fixture.js";
import { nextTurn, percentile, waitFor } from "./measure.js";

const WARMUP = 1_000;
const ROUNDS = 5;
/** Sequential round trips per path per round. */
const SEQUENTIAL = 2_000;
const WIDTH = 64;
/** Round trips per path per round with WIDTH in flight. */
const CONCURRENT = 3_200;
const STOP = { graceMs: 5_000 };

type PathName = "direct" | "local" | "ws";

interface Path {
  readonly name: PathName;
  readonly driver: Driver;
  /** The driver at the far end, which counts what reached it. */
  readonly counting: CountingDriver;
  /** Round trips asked for so far, to check against what reached the driver. */
  asked: number;
  readonly micros: number[];
  concurrentMs: number;
  concurrentTrips: number;
}

export async function hostsRoundtrip(report: Report): Promise<void> {
  report.say(
    `round trip = start + stop of a new instance id, awaited; ${ROUNDS} rounds, each path in turn: ` +
      `${SEQUENTIAL} one at a time, then ${CONCURRENT} with ${WIDTH} in flight; ${WARMUP} warm-up round trips first`,
  );
  const direct = new CountingDriver();
  const localDriver = new CountingDriver();
  const local = new HostsDriver({
    fleet: HOSTS_FLEET,
    identity: HOSTS_IDENTITY,
    knownHosts: [],
    clock: systemClock,
  });
  const leaveLocal = joinLocalHost(local, "local", localDriver, HOST_INFO);
  const manager = await hostsManager();
  const remoteDriver = new CountingDriver();
  const daemon = new HostDaemon({
    managerUrl: manager.url,
    hostId: "remote",
    credential: hostCredential(HOST_SECRET, HOSTS_IDENTITY.id, "remote"),
    driver: remoteDriver,
    info: HOST_INFO,
  });
  try {
    daemon.start();
    await waitFor(() => manager.hosts.hosts()[0]?.status === "up", 10_000, "the host daemon to join");
    // Its first inventory is in once a list() has been answered.
    await manager.hosts.list(HOSTS_IDENTITY);
    const path = (name: PathName, driver: Driver, counting: CountingDriver): Path => ({
      name,
      driver,
      counting,
      asked: 0,
      micros: [],
      concurrentMs: 0,
      concurrentTrips: 0,
    });
    const paths = [
      path("direct", direct, direct),
      path("local", local, localDriver),
      path("ws", manager.hosts, remoteDriver),
    ];

    for (const p of paths) await sequential(p, specs(p, WARMUP), false);
    for (let round = 0; round < ROUNDS; round++) {
      for (const p of paths) await sequential(p, specs(p, SEQUENTIAL), true);
      for (const p of paths) await concurrent(p, specs(p, CONCURRENT));
    }

    for (const p of paths) {
      if (p.counting.starts !== p.asked || p.counting.stops !== p.asked) {
        report.say(
          `warning: ${p.name}: ${p.asked} round trips asked, the driver saw ${p.counting.starts} starts and ${p.counting.stops} stops`,
        );
      }
    }
    for (const t of manager.trouble) report.say(`warning: ws: ${t}`);

    const [a, b, c] = paths.map((p) => summary(p)) as [Summary, Summary, Summary];
    for (const s of [a, b, c]) {
      report.add(`${s.name}: round trip p50`, s.p50, "us");
      report.add(`${s.name}: round trip p99`, s.p99, "us");
      report.add(`${s.name}: round trip mean`, s.mean, "us", {
        note: `${s.n} round trips, max ${s.max.toFixed(0)} µs`,
      });
    }
    report.add("local / direct, p50", b.p50 / a.p50, "times");
    report.add("local / direct, p99", b.p99 / a.p99, "times");
    report.add("ws / direct, p50", c.p50 / a.p50, "times");
    report.add("ws / direct, p99", c.p99 / a.p99, "times");
    report.add("ws / local, p50", c.p50 / b.p50, "times");
    for (const s of [a, b, c]) {
      report.add(`${s.name}: ${WIDTH} in flight`, s.actionsPerSec, "actions/s", {
        note: `start and stop each an action; ${s.concurrentTrips} round trips`,
      });
    }
    // As cost ratios, like the latency ones: time per action over the direct driver's.
    report.add(`local / direct, time per action, ${WIDTH} in flight`, a.actionsPerSec / b.actionsPerSec, "times");
    report.add(`ws / direct, time per action, ${WIDTH} in flight`, a.actionsPerSec / c.actionsPerSec, "times");
  } finally {
    await daemon.close();
    await manager.close();
    leaveLocal();
    await local.close();
  }
}

/** The next `n` launch specs of a path, made before the clock starts (each draws a random token). */
function specs(p: Path, n: number): LaunchSpec[] {
  const out: LaunchSpec[] = [];
  for (let i = 0; i < n; i++) out.push(hostsLaunchSpec(`${p.name}-${p.asked + i}`));
  p.asked += n;
  return out;
}

async function sequential(p: Path, batch: readonly LaunchSpec[], keep: boolean): Promise<void> {
  for (const spec of batch) {
    const t = performance.now();
    await p.driver.start(spec);
    await p.driver.stop(spec.instanceId, STOP);
    const took = (performance.now() - t) * 1000;
    if (keep) p.micros.push(took);
  }
  // Whatever the last outcome left to run (its event, a timer's cancel) runs before the next path's turn.
  await nextTurn();
}

async function concurrent(p: Path, batch: readonly LaunchSpec[]): Promise<void> {
  const t = performance.now();
  await inFlight(batch.length, WIDTH, async (i) => {
    const spec = batch[i]!;
    await p.driver.start(spec);
    await p.driver.stop(spec.instanceId, STOP);
  });
  p.concurrentMs += performance.now() - t;
  p.concurrentTrips += batch.length;
  await nextTurn();
}

interface Summary {
  readonly name: PathName;
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly max: number;
  readonly actionsPerSec: number;
  readonly concurrentTrips: number;
}

function summary(p: Path): Summary {
  const sorted = [...p.micros].sort((x, y) => x - y);
  return {
    name: p.name,
    n: sorted.length,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    mean: sorted.reduce((s, x) => s + x, 0) / sorted.length,
    max: sorted.at(-1) ?? Number.NaN,
    actionsPerSec: (2 * p.concurrentTrips * 1000) / p.concurrentMs,
    concurrentTrips: p.concurrentTrips,
  };
}
