/**
 * Benchmark (issue "dashboard"): what the dashboard's live stream costs the
 * manager at 10,000 tracked instances. The manager tracks them in process
 * (tracked-fleet.ts) under a steady signal load: every LOAD_EVERY_MS a few
 * gauge batches, each from another instance, then a tick. Its real stream
 * (froctal's createDashboardStream, at its default interval) is served on a
 * real HTTP server on 127.0.0.1. The manager process's CPU per second of wall
 * time is measured without a client, with one SSE client connected, and
 * without one again (the machine is shared: the two baselines show its
 * drift, and the ratio is to their mean). The client is a plain Node process
 * of its own, so its reading and parsing are not counted as the manager's;
 * it counts the stream's body bytes and reports them when asked.
 */

import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import type { Batch } from "@froctal/protocol";
import { createDashboardStream, type DashboardStream } from "froctal/dashboard-stream";
import type { Report } from "./figures.js";
import { sampleBatch } from "./fleet.js";
import { sleep, waitFor } from "./measure.js";
import { METRICS, type TrackedFleet, trackedFleet } from "./tracked-fleet.js";

const INSTANCES = 10_000;
/** The load: BATCHES_PER_LOAD batches of every metric, each from another instance, every LOAD_EVERY_MS. */
const LOAD_EVERY_MS = 10;
const BATCHES_PER_LOAD = 20;
/** Before each measured phase (the client's first snapshot, JIT, GC settling), then each phase. */
const WARMUP_MS = 1_000;
const PHASE_MS = 3_000;
const STREAM_PATH = "/dashboard/stream";

/**
 * The client, as CommonJS for `node -e`: counts body bytes and SSE events;
 * each line on stdin is a question, answered with "bytes events" on stdout.
 */
const CLIENT = `
const http = require("node:http");
let bytes = 0, events = 0;
http.get(process.argv[1], (res) => {
  res.on("data", (chunk) => {
    bytes += chunk.length;
    for (let i = chunk.indexOf("data: "); i !== -1; i = chunk.indexOf("data: ", i + 6)) events++;
  });
}).on("error", (err) => { console.error(String(err)); process.exit(1); });
require("node:readline").createInterface({ input: process.stdin }).on("line", () => {
  process.stdout.write(bytes + " " + events + "\\n");
}).on("close", () => process.exit(0));
`;

interface Phase {
  /** Manager process CPU, in ms per second of wall time (1,000 is a whole core). */
  readonly cpuMsPerSec: number;
  readonly signalsPerSec: number;
}

export async function dashboard(report: Report): Promise<void> {
  const t0 = performance.now();
  const fleet = await trackedFleet({ instances: INSTANCES });
  const setupMs = performance.now() - t0;
  const stream = createDashboardStream(() => fleet.manager);
  const server = createServer((req, res) => {
    if (req.method === "GET" && req.url === STREAM_PATH) stream.open(req, res);
    else res.writeHead(404).end();
  });
  const load = steadyLoad(fleet);
  let client: Client | undefined;
  try {
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    const { port } = server.address() as AddressInfo;
    report.say(
      `${INSTANCES.toLocaleString("en-US")} instances (set up in ${Math.round(setupMs)} ms); load: ` +
        `${BATCHES_PER_LOAD} batches x ${METRICS.length} gauges every ${LOAD_EVERY_MS} ms, then a tick; ` +
        `${PHASE_MS} ms a phase after ${WARMUP_MS} ms of warm-up; the stream at its default interval`,
    );

    const before = await phase(load);
    client = startClient(`http://127.0.0.1:${port}${STREAM_PATH}`);
    const opened = client;
    await waitFor(
      () => {
        if (opened.exited !== undefined) throw new Error(`the dashboard client exited (${opened.exited})`);
        return stream.clients === 1;
      },
      10_000,
      "the dashboard client to connect",
    );
    await sleep(WARMUP_MS);
    const [bytes0, events0] = await client.ask();
    const t1 = performance.now();
    const withClient = await phase(load, 0);
    const [bytes1, events1] = await client.ask();
    const seconds = (performance.now() - t1) / 1000;
    await client.stop();
    client = undefined;
    await waitFor(() => stream.clients === 0, 5_000, "the dashboard client to go");
    const after = await phase(load);

    const baseline = (before.cpuMsPerSec + after.cpuMsPerSec) / 2;
    const bytes = bytes1 - bytes0;
    const events = events1 - events0;
    report.say(
      `signals/s: ${Math.round(before.signalsPerSec)} before, ${Math.round(withClient.signalsPerSec)} with the client, ` +
        `${Math.round(after.signalsPerSec)} after; ${events} snapshots in ${seconds.toFixed(1)} s`,
    );
    report.add("the client received", bytes / seconds, "bytes/s", {
      note: `SSE body; ${events > 0 ? Math.round(bytes / events) : 0} B a snapshot`,
    });
    report.add("manager CPU, no client", before.cpuMsPerSec / 10, "percent-cpu", { note: "first baseline" });
    report.add("manager CPU, one dashboard client", withClient.cpuMsPerSec / 10, "percent-cpu");
    report.add("manager CPU, no client again", after.cpuMsPerSec / 10, "percent-cpu", { note: "second baseline" });
    report.add("manager CPU with / without a client", withClient.cpuMsPerSec / baseline, "times", {
      note: "to the mean of the two baselines",
    });
    report.add("the stream's own CPU", (withClient.cpuMsPerSec - baseline) / 10, "percent-cpu", {
      note: "with a client minus the baselines' mean; noise on a shared machine can make it negative",
    });
  } finally {
    load.stop();
    await client?.stop();
    await closeServer(server, stream);
    fleet.close();
  }
}

interface Load {
  readonly signals: () => number;
  stop(): void;
}

/** Gauge batches at a fixed rate; two value sets, so every batch changes what it carries (and the snapshot changes). */
function steadyLoad(fleet: TrackedFleet): Load {
  const batches: Batch[] = [2, 3].map((base) => sampleBatch(METRICS.length, (i) => base + i / 100));
  let cursor = 0;
  const timer = setInterval(() => {
    for (let b = 0; b < BATCHES_PER_LOAD; b++) {
      const i = cursor++;
      fleet.manager.ingest.batch(fleet.sessions[i % INSTANCES]!, batches[Math.floor(i / INSTANCES) % 2]!);
    }
    fleet.tick();
  }, LOAD_EVERY_MS);
  return { signals: () => cursor * METRICS.length, stop: () => clearInterval(timer) };
}

/** A warm-up, then this process's CPU and the signals sent over PHASE_MS. */
async function phase(load: Load, warmupMs = WARMUP_MS): Promise<Phase> {
  await sleep(warmupMs);
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const s0 = load.signals();
  await sleep(PHASE_MS);
  const cpu = process.cpuUsage(cpu0);
  const elapsed = performance.now() - t0;
  return {
    cpuMsPerSec: (cpu.user + cpu.system) / elapsed,
    signalsPerSec: ((load.signals() - s0) * 1000) / elapsed,
  };
}

interface Client {
  /** Body bytes and SSE events received so far. */
  ask(): Promise<readonly [number, number]>;
  /** Closes its stdin and waits for it to exit (killed after a few seconds). */
  stop(): Promise<void>;
  readonly exited: number | null | undefined;
}

function startClient(url: string): Client {
  const child: ChildProcess = spawn(process.execPath, ["-e", CLIENT, url], { stdio: ["pipe", "pipe", "inherit"] });
  let exited: number | null | undefined;
  const gone = once(child, "exit").then(([code]) => {
    exited = code as number | null;
  });
  const answers: ((line: string) => void)[] = [];
  createInterface({ input: child.stdout! }).on("line", (line) => answers.shift()?.(line));
  return {
    async ask() {
      if (exited !== undefined) throw new Error(`the dashboard client exited (${exited})`);
      const answer = new Promise<string>((resolve) => answers.push(resolve));
      child.stdin!.write("?\n");
      const line = await Promise.race([answer, sleep(5_000).then(() => "")]);
      const [bytes, events] = line.split(" ").map(Number);
      if (bytes === undefined || events === undefined || !Number.isFinite(bytes) || !Number.isFinite(events)) {
        throw new Error(`the dashboard client did not answer (${JSON.stringify(line)})`);
      }
      return [bytes, events] as const;
    },
    async stop() {
      if (exited !== undefined) return;
      child.stdin!.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 3_000);
      await gone;
      clearTimeout(timer);
    },
    get exited() {
      return exited;
    },
  };
}

/** The port's close waits for every connection; the stream's are ended first, and a straggler is cut after a second. */
async function closeServer(server: Server, stream: DashboardStream): Promise<void> {
  if (!server.listening) return;
  stream.close();
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const timer = setTimeout(() => server.closeAllConnections(), 1_000);
  await closed;
  clearTimeout(timer);
}
