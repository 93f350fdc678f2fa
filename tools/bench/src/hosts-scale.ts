/**
 * Benchmark (issue "hosts"): how many hosts x guests the manager side tracks.
 * For 10, 50 and 100 hosts, each size in a fresh manager process
 * (hosts-scale-manager.ts), real HostDaemons in another (hosts-child.ts,
 * in-memory drivers), each over its own loopback WebSocket to the real /host
 * endpoint, join a HostsDriver; after a warm-up, guests are placed through
 * HostsDriver.start, 64 in flight, up to 1,000 and then 10,000. Figures per
 * size: placement+start throughput and the manager's CPU per start, the time
 * of one HostsDriver.list() over every host, the manager's heap (after full
 * collections) and RSS growth per guest placed and per host joined (the
 * marginal cost between sizes, as each process also pays a fixed start-up
 * cost), and heap still held after list() calls. Ratios are against the
 * smallest size in the same run; each figure is the median of 3 passes.
 */
import { fork } from "node:child_process";
import type { Report } from "./figures.js";
import { median } from "./measure.js";

const SIZES = [10, 50, 100] as const;
const PASSES = 3;
/** Heap and RSS per guest are reported for levels this large and up. */
const PER_GUEST_FROM = 10_000;
const SIZE_TIMEOUT_MS = 60_000;
/** RSS moves in the steps the allocator and V8 take pages in, and includes socket buffers outside the JS heap. */
const RSS_NOTE = "coarse: pages come and go in MB steps";
const MANAGER = new URL("./hosts-scale-manager.js", import.meta.url);

/** Guests placed in total at each level, in order. */
export const LEVELS = [1_000, 10_000] as const;
export const WIDTH = 64;
export const LIST_REPEATS = 5;

export interface LevelResult {
  readonly guests: number;
  readonly startsPerSec: number;
  /** This process's CPU per start, µs. */
  readonly cpuPerStart: number;
  readonly listMs: number;
  /** Heap growth per guest placed in this level (from the previous level's last measure). */
  readonly heapPerGuest: number;
  readonly rssPerGuest: number;
  /** Heap still held after the list() calls, per call and per guest listed (0 when nothing is kept). */
  readonly heapPerListedGuest: number;
}

export interface SizeResult {
  readonly hosts: number;
  readonly joinMs: number;
  /** Heap and RSS growth from the bare endpoint to every host joined (and its first inventory in). */
  readonly joinHeap: number;
  readonly joinRss: number;
  readonly levels: readonly LevelResult[];
  /** Fewest and most guests on one host at the last level. */
  readonly spread: readonly [number, number];
  readonly warnings: readonly string[];
}

export async function hostsScale(report: Report): Promise<void> {
  report.say(
    `each size: a fresh manager process and a process of real HostDaemons (in-memory drivers), a loopback ` +
      `WebSocket each; a warm-up; then guests placed through HostsDriver.start, ${WIDTH} in flight, to ` +
      `${LEVELS.map((l) => l.toLocaleString("en-US")).join(" then ")}; list(): median of ${LIST_REPEATS}; every figure the median of ${PASSES} passes`,
  );
  // Each size PASSES times, the order reversed every other pass so drift on a shared machine touches each alike.
  const runs = new Map<number, SizeResult[]>(SIZES.map((h) => [h, []]));
  for (let pass = 0; pass < PASSES; pass++) {
    for (const hosts of pass % 2 === 0 ? SIZES : [...SIZES].reverse()) runs.get(hosts)!.push(await runSize(hosts));
  }
  const sizes = SIZES.map((hosts) => merged(runs.get(hosts)!));
  for (const s of sizes) {
    const { hosts } = s;
    for (const w of s.warnings) report.say(`warning: ${hosts} hosts: ${w}`);
    report.add(`${hosts} hosts: join`, s.joinMs, "ms", { note: "fork of the hosts process -> every host up" });
    for (const l of s.levels) {
      const at = `${hosts} hosts, ${l.guests.toLocaleString("en-US")} guests`;
      report.add(`${at}: placement+start`, l.startsPerSec, "actions/s", {
        note: `manager CPU ${l.cpuPerStart.toFixed(0)} µs per start`,
      });
      report.add(`${at}: list()`, l.listMs, "ms");
      // A thousand guests' heap is within what a full collection leaves to chance: only the big level says.
      if (l.guests >= PER_GUEST_FROM) {
        report.add(`${at}: heap per guest placed`, l.heapPerGuest, "bytes/guest", { note: "since the level before" });
        report.add(`${at}: RSS per guest placed`, l.rssPerGuest, "bytes/guest", { note: RSS_NOTE });
      }
      report.add(`${at}: heap kept per list() call, per guest listed`, l.heapPerListedGuest, "bytes/guest", {
        note: "0 if list() keeps nothing",
      });
    }
    report.add(`${hosts} hosts: heap growth, hosts joined`, s.joinHeap, "bytes");
    report.add(`${hosts} hosts: RSS growth, hosts joined`, s.joinRss, "bytes", { note: RSS_NOTE });
    report.say(`${hosts} hosts: ${s.spread[0]} to ${s.spread[1]} guests per host`);
  }
  const base = sizes[0]!;
  const last = (s: SizeResult) => s.levels[s.levels.length - 1]!;
  const top = `${LEVELS[LEVELS.length - 1]!.toLocaleString("en-US")} guests`;
  for (const s of sizes.slice(1)) {
    const vs = `${s.hosts} / ${base.hosts} hosts`;
    const more = s.hosts - base.hosts;
    report.add(`heap per host, ${base.hosts} -> ${s.hosts} hosts`, (s.joinHeap - base.joinHeap) / more, "bytes/host");
    report.add(`RSS per host, ${base.hosts} -> ${s.hosts} hosts`, (s.joinRss - base.joinRss) / more, "bytes/host", {
      note: RSS_NOTE,
    });
    report.add(`${vs}: placement+start throughput, ${top}`, last(s).startsPerSec / last(base).startsPerSec, "times");
    report.add(`${vs}: list() time, ${top}`, last(s).listMs / last(base).listMs, "times");
    report.add(`${vs}: heap per guest, ${top}`, last(s).heapPerGuest / last(base).heapPerGuest, "times");
  }
}

/** Each figure the median of its passes; warnings from every pass. */
function merged(rs: readonly SizeResult[]): SizeResult {
  const of = (f: (r: SizeResult) => number) => median(rs.map(f));
  const first = rs[0]!;
  return {
    hosts: first.hosts,
    joinMs: of((r) => r.joinMs),
    joinHeap: of((r) => r.joinHeap),
    joinRss: of((r) => r.joinRss),
    levels: first.levels.map((l, i) => {
      const at = (f: (l: LevelResult) => number) => of((r) => f(r.levels[i]!));
      return {
        guests: l.guests,
        startsPerSec: at((x) => x.startsPerSec),
        cpuPerStart: at((x) => x.cpuPerStart),
        listMs: at((x) => x.listMs),
        heapPerGuest: at((x) => x.heapPerGuest),
        rssPerGuest: at((x) => x.rssPerGuest),
        heapPerListedGuest: at((x) => x.heapPerListedGuest),
      };
    }),
    spread: [Math.min(...rs.map((r) => r.spread[0])), Math.max(...rs.map((r) => r.spread[1]))],
    warnings: [...new Set(rs.flatMap((r) => r.warnings))],
  };
}

function runSize(hosts: number): Promise<SizeResult> {
  return new Promise((resolve, reject) => {
    const child = fork(MANAGER, [String(hosts)], {
      // A warning each host's socket might raise is collected there and reported once, not printed per host.
      execArgv: ["--expose-gc", "--no-warnings"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let settled = false;
    const timer = setTimeout(() => child.kill("SIGKILL"), SIZE_TIMEOUT_MS);
    child.on("message", (m: { type: "result"; result: SizeResult } | { type: "failed"; message: string }) => {
      settled = true;
      if (m.type === "result") resolve(m.result);
      else reject(new Error(`${hosts} hosts: ${m.message}`));
    });
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      if (!settled)
        reject(new Error(`${hosts} hosts: the manager process exited (${signal ?? `code ${code}`}) before reporting`));
    });
  });
}
