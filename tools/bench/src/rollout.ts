/**
 * Benchmark (issue "rollout"): how long one configuration generation takes
 * across 10, 100 and 1,000 instances, over real loopback. Wired as `froctal
 * up` wires it (HTTP server, createAgentServer on the manager's Ingest port,
 * tickMs 2, the real clock), with an in-process Driver that only records; the
 * instances are real @froctal/agent connections, a few child processes of
 * them (rollout-guests.ts), whose prepare and commit handlers answer at once.
 * Every instance's configuration derives from one fact of router-1 ("mode"),
 * so each trial, a new mode, moves all of them in ONE generation.
 *
 * Timed in the manager process on its clock (performance.now()): from the
 * first prepare frame handed to a session (a thin wrapper of the Ingest port
 * notes it) to the generation's committed outcome, which the rollout records
 * as it applies the last COMMITTED ack. The note adds the time from the
 * fact's batch reaching the Ingest port, which includes deriving every
 * instance's configuration.
 */

import { type ChildProcess, fork } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import {
  type AgentSession,
  type Channel,
  canonicalJson,
  defineFleet,
  type FleetSpec,
  type Ingest,
  Manager,
  type RolloutOutcome,
} from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import type { Batch, ConfigAck, Hello } from "@froctal/protocol";
import { createAgentServer } from "@froctal/server";
import { CountingDriver } from "@froctal/testkit";
import type { Report } from "./figures.js";
import { type Launched, launched } from "./fleet.js";
import { percentile, sleep, waitFor } from "./measure.js";

const SIZES = [10, 100, 1_000] as const;
const TRIALS = 20;
const WARMUP_TRIALS = 3;
/** As `froctal up` runs the manager. */
const TICK_MS = 2;
/** Instances per guest process, and at most this many processes (2 shared cores: more only contend with the manager). */
const PER_PROCESS = 500;
const MAX_PROCESSES = 2;
const SOURCE = "router-1";
const TARGET_MS = 100;
const GUESTS = new URL("./rollout-guests.js", import.meta.url);

export async function rollout(report: Report): Promise<void> {
  report.say(
    `real agents in child processes -> @froctal/server -> Manager (tickMs ${TICK_MS}); every instance's config ` +
      `derives from ${SOURCE}'s "mode"; ${TRIALS} trials per size after ${WARMUP_TRIALS} warm-up, one generation each`,
  );
  for (const n of SIZES) {
    const r = await trials(n);
    const label = `${n.toLocaleString("en-US")} instances`;
    report.add(`${label}: first prepare -> last commit, p50`, r.p50, "ms", {
      ...(n === 1_000 ? { target: { cmp: "<=", value: TARGET_MS } } : {}),
      note: `fact reaches the manager -> last commit: p50 ${r.factP50.toFixed(1)} ms; ${r.processes} guest process(es)`,
    });
    report.add(`${label}: first prepare -> last commit, max`, r.max, "ms");
    if (r.split > 0) report.say(`warning: ${r.split} trial(s) of ${label} did not commit in one generation`);
  }
}

interface Result {
  readonly p50: number;
  readonly max: number;
  readonly factP50: number;
  readonly processes: number;
  /** Trials whose change did not go out as one committed generation of every instance. */
  readonly split: number;
}

function fleet(n: number): FleetSpec {
  return defineFleet({
    name: "rollout",
    services: {
      router: {
        image: "bench-router",
        replicas: n,
        startTimeoutMs: 600_000,
        config: (f, self) => desired(f.instance(SOURCE)?.fact<number>("mode") ?? 0, self.id),
      },
    },
  });
}

const desired = (mode: number, id: string) => ({ mode, self: id });

async function trials(n: number): Promise<Result> {
  const http = createServer((_req, res) => res.end());
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  const url = `ws://127.0.0.1:${port}/agent`;
  const specs: Launched[] = [];
  const driver = new CountingDriver((spec) => specs.push(launched(spec)));
  // Outcomes are stamped with the clock's wall time: here the same monotonic timeline the prepares are timed on.
  const clock = { ...systemClock, wallNow: () => performance.now() };
  const manager = new Manager({ fleet: fleet(n), driver, clock, managerUrl: url, tickMs: TICK_MS });
  const timing = new TimingIngest(manager.ingest);
  const server = createAgentServer({ ingest: timing });
  server.attachWebSocket(http, { path: "/agent" });
  const children: ChildProcess[] = [];
  try {
    manager.start();
    await waitFor(() => specs.length === n, 10_000, `the manager to start ${n} instances`);
    const processes = Math.min(MAX_PROCESSES, Math.ceil(n / PER_PROCESS));
    const share = Math.ceil(n / processes);
    const host = new Map<string, ChildProcess>();
    const connected: Promise<void>[] = [];
    for (let p = 0; p < processes; p++) {
      const mine = specs.slice(p * share, (p + 1) * share);
      const child = fork(GUESTS, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
      children.push(child);
      for (const s of mine) host.set(s.instanceId, child);
      connected.push(ready(child));
      child.send({ type: "start", url, instances: mine.map((s) => ({ instanceId: s.instanceId, token: s.token })) });
    }
    await Promise.all(connected);
    const instances = [...manager.store.instances.values()];
    const runs = (mode: number) =>
      instances.every((i) => i.phase === "ready" && i.committedJson === canonicalJson(desired(mode, i.id)));
    // The first configuration reaches the instances in a few generations, as they connect.
    await waitFor(() => runs(0), 20_000, `${n} instances to run their first configuration`);

    const source = host.get(SOURCE)!;
    const took: number[] = [];
    const fromFact: number[] = [];
    let split = 0;
    for (let trial = 1; trial <= WARMUP_TRIALS + TRIALS; trial++) {
      const seen = manager.status().rollouts.length;
      timing.factAt = undefined;
      source.send({ type: "fact", instanceId: SOURCE, name: "mode", value: trial });
      await waitFor(() => runs(trial), 10_000, `trial ${trial} to commit on ${n} instances`);
      const outcomes = manager.status().rollouts.slice(seen);
      const one = outcomes.length === 1 ? outcomes[0] : undefined;
      const first = one === undefined ? undefined : timing.firstPrepare.get(one.generation);
      if (!isWhole(one, n) || first === undefined || timing.factAt === undefined) {
        split++;
        continue;
      }
      if (trial <= WARMUP_TRIALS) continue;
      took.push(one.at - first);
      fromFact.push(one.at - timing.factAt);
      // Off the tick grid, and the guests' acks of this trial all in.
      await sleep(5 + Math.floor(Math.random() * 5));
    }
    took.sort((a, b) => a - b);
    fromFact.sort((a, b) => a - b);
    return {
      p50: percentile(took, 50),
      max: took.at(-1) ?? Number.NaN,
      factP50: percentile(fromFact, 50),
      processes,
      split,
    };
  } finally {
    for (const c of children) if (c.connected) c.send({ type: "stop" });
    await Promise.all(children.map((c) => exited(c, 2_000)));
    manager.close();
    await server.close();
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeAllConnections();
    await closed;
  }
}

/** One committed generation that took every instance. */
function isWhole(o: RolloutOutcome | undefined, n: number): o is RolloutOutcome {
  return o !== undefined && o.result === "committed" && o.instances.length === n;
}

/** Resolves when the guest process says all its agents are connected; rejects if it fails or exits first. */
function ready(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("rollout guests did not connect in time")), 30_000);
    child.on("message", (m: { type: string; message?: string }) => {
      if (m.type === "connected") resolve();
      if (m.type === "failed") reject(new Error(`rollout guests could not connect: ${m.message}`));
      clearTimeout(timer);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`rollout guests exited with code ${code} before they connected`));
    });
  });
}

/** Waits for a child to exit; kills it if it takes longer than `ms`. */
function exited(child: ChildProcess, ms: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => child.kill("SIGKILL"), ms);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * The manager's Ingest port, passed through, noting when the first prepare of
 * each generation is handed to a session and when the "mode" fact arrives.
 * Each session is wrapped once, at open; the core sees only the wrappers.
 */
class TimingIngest implements Ingest {
  readonly firstPrepare = new Map<number, number>();
  factAt: number | undefined;
  private readonly wrapped = new Map<AgentSession, AgentSession>();

  constructor(private readonly inner: Manager["ingest"]) {}

  admit(hello: Hello, channel: Channel) {
    return this.inner.admit(hello, channel);
  }

  opened(session: AgentSession, hello: Hello): void {
    const first = this.firstPrepare;
    const w: AgentSession = {
      instanceId: session.instanceId,
      sessionId: session.sessionId,
      streamId: session.streamId,
      send(frame) {
        const g = frame.prepare ? Number(frame.prepare.generation) : undefined;
        if (g !== undefined && !first.has(g)) first.set(g, performance.now());
        return session.send(frame);
      },
      ack: (seq) => session.ack(seq),
      close: (code, reason) => session.close(code, reason),
    };
    this.wrapped.set(session, w);
    this.inner.opened(w, hello);
  }

  batch(session: AgentSession, batch: Batch): void {
    if (batch.events.some((e) => e.kind === "app" && e.app.name === "mode")) this.factAt ??= performance.now();
    this.inner.batch(this.wrapped.get(session) ?? session, batch);
  }

  configAck(session: AgentSession, ack: ConfigAck): void {
    this.inner.configAck(this.wrapped.get(session) ?? session, ack);
  }

  closed(session: AgentSession, reason: string): void {
    const w = this.wrapped.get(session) ?? session;
    this.wrapped.delete(session);
    this.inner.closed(w, reason);
  }
}
