/**
 * One size of the hosts-scale benchmark, in a manager process of its own
 * (forked by hosts-scale.ts with --expose-gc): so each size starts from the
 * same heap and RSS, and what one size freed is not reused by the next.
 * `node --expose-gc dist/hosts-scale-manager.js HOSTS` joins HOSTS real
 * HostDaemons (hosts-child.ts, another process) to a HostsDriver behind the
 * real /host endpoint, warms up, then places guests level by level and sends
 * {type: "result", result: SizeResult} (or {type: "failed", message}).
 */
import { type ChildProcess, fork } from "node:child_process";
import { once } from "node:events";
import { performance } from "node:perf_hooks";
import { hostCredential } from "@froctal/driver-hosts";
import type { LaunchSpec } from "@froctal/manager";
import { HOST_INFO, HOST_SECRET, HOSTS_IDENTITY, hostsLaunchSpec, hostsManager, inFlight } from "./hosts-fixture.js";
import { LEVELS, type LevelResult, LIST_REPEATS, type SizeResult, WIDTH } from "./hosts-scale.js";
import { median, nextTurn, waitFor } from "./measure.js";

/** Start-and-stop round trips before anything is measured, so the code on the path is compiled. */
const WARMUP = 2_000;
const CHILD = new URL("./hosts-child.js", import.meta.url);

type Gc = () => void;
const gc = (globalThis as { gc?: Gc }).gc;

async function memory(): Promise<{ heap: number; rss: number }> {
  if (gc === undefined) throw new Error("run with node --expose-gc");
  // A few rounds: finalizers and weak maps let go of more on the second pass.
  for (let i = 0; i < 3; i++) {
    gc();
    await nextTurn();
  }
  const m = process.memoryUsage();
  return { heap: m.heapUsed, rss: m.rss };
}

/** Node's process warnings (its parent runs it with --no-warnings): once each, with the size's other warnings. */
const nodeWarnings = new Set<string>();
process.on("warning", (w) => nodeWarnings.add(`${w.name}: ${w.message}`));

async function measure(hosts: number): Promise<SizeResult> {
  const warnings: string[] = [];
  // Made before the first measure, so the heap they take is in every baseline.
  const warm: LaunchSpec[] = Array.from({ length: WARMUP }, (_, i) => hostsLaunchSpec(`warm-${i}`));
  const specs: LaunchSpec[] = Array.from({ length: LEVELS[LEVELS.length - 1]! }, (_, i) => hostsLaunchSpec(`web-${i}`));
  const manager = await hostsManager();
  let child: ChildProcess | undefined;
  try {
    const m0 = await memory();
    const t0 = performance.now();
    child = fork(CHILD, [], { serialization: "advanced", stdio: ["ignore", "inherit", "inherit", "ipc"] });
    const started = childStarted(child);
    const ids = Array.from({ length: hosts }, (_, i) => `host-${String(i).padStart(3, "0")}`);
    child.send({
      type: "start",
      url: manager.url,
      hosts: ids.map((hostId) => ({ hostId, credential: hostCredential(HOST_SECRET, HOSTS_IDENTITY.id, hostId) })),
      info: HOST_INFO,
    });
    await started;
    const up = () => manager.hosts.hosts().filter((h) => h.status === "up").length;
    await waitFor(() => up() === hosts, 20_000, `${hosts} hosts to join`);
    const joinMs = performance.now() - t0;
    // Every host's first inventory is in once a list() has been answered by all.
    await manager.hosts.list(HOSTS_IDENTITY);
    // Before the warm-up, whose leftovers would blur a host's few kilobytes.
    const mJoined = await memory();
    await inFlight(warm.length, WIDTH, async (i) => {
      await manager.hosts.start(warm[i]!);
      await manager.hosts.stop(warm[i]!.instanceId, { graceMs: 1_000 });
    });
    const m1 = await memory();

    const levels: LevelResult[] = [];
    let placed = 0;
    let before = m1;
    for (const guests of LEVELS) {
      const from = placed;
      const cpu0 = process.cpuUsage();
      const t = performance.now();
      await inFlight(guests - from, WIDTH, (i) => manager.hosts.start(specs[from + i]!));
      const ms = performance.now() - t;
      const cpu = process.cpuUsage(cpu0);
      placed = guests;
      const mPlaced = await memory();
      const listed: number[] = [];
      for (let r = 0; r < LIST_REPEATS; r++) {
        const tl = performance.now();
        const found = await manager.hosts.list(HOSTS_IDENTITY);
        listed.push(performance.now() - tl);
        if (found.length !== guests) warnings.push(`list() found ${found.length} guests of ${guests} placed`);
      }
      const mListed = await memory();
      levels.push({
        guests,
        startsPerSec: ((guests - from) * 1000) / ms,
        cpuPerStart: (cpu.user + cpu.system) / (guests - from),
        listMs: median(listed),
        heapPerGuest: (mPlaced.heap - before.heap) / (guests - from),
        rssPerGuest: (mPlaced.rss - before.rss) / (guests - from),
        heapPerListedGuest: (mListed.heap - mPlaced.heap) / (LIST_REPEATS * guests),
      });
      before = mListed;
    }
    const counts = manager.hosts.hosts().map((h) => h.guests);
    // Also keeps the specs alive past the last measure, as the baselines assume.
    const unplaced = specs.filter((spec) => manager.hosts.hostOf(spec.instanceId) === undefined).length;
    if (unplaced > 0) warnings.push(`${unplaced} guests not placed`);
    warnings.push(...manager.trouble, ...nodeWarnings);
    return {
      hosts,
      joinMs,
      joinHeap: mJoined.heap - m0.heap,
      joinRss: mJoined.rss - m0.rss,
      levels,
      spread: [Math.min(...counts), Math.max(...counts)],
      warnings,
    };
  } finally {
    // The hosts first: with the manager gone first they would dial again and complain.
    if (child !== undefined && child.exitCode === null) {
      const exited = once(child, "exit");
      child.send({ type: "stop" });
      const timer = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    await manager.close();
  }
}

function childStarted(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once("exit", (code) => reject(new Error(`the hosts process exited (code ${code}) before its hosts started`)));
    child.on("message", (m: { type: string; message?: string }) => {
      if (m.type === "started") resolve();
      else if (m.type === "failed") reject(new Error(`the hosts process failed: ${m.message}`));
    });
  });
}

const send = (m: unknown) =>
  new Promise<void>((resolve) => (process.send ? process.send(m, () => resolve()) : resolve()));
try {
  const result = await measure(Number(process.argv[2]));
  if (process.send) await send({ type: "result", result });
  else console.log(JSON.stringify(result, null, 2));
} catch (err) {
  const message = err instanceof Error ? (err.stack ?? err.message) : String(err);
  if (process.send) await send({ type: "failed", message });
  else console.error(message);
}
// Sockets and timers are closed by now; exiting also ends whatever a failed run left behind.
process.exit(0);
