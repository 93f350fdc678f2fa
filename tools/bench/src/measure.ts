/** Small measuring helpers shared by the benchmarks: waiting, rates, percentiles, the decode ceiling. */
import { performance } from "node:perf_hooks";
import { setImmediate as turn } from "node:timers/promises";
import { decodeAgentFrame, type Limits } from "@froctal/protocol";

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `ready` every few ms; throws naming `what` after `timeoutMs`, so no wait is endless. */
export async function waitFor(ready: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!ready()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(5);
  }
}

/** Lets every pending microtask and I/O callback run once. */
export const nextTurn = (): Promise<void> => turn();

export interface Rate {
  readonly perSec: number;
  readonly count: number;
  readonly ms: number;
  /** CPU this process used in the window, as a share of one core. */
  readonly cpu: number;
}

/** How fast `read()` grows over `ms` of wall time, and this process's CPU meanwhile. */
export async function rateOver(read: () => number, ms: number): Promise<Rate> {
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const n0 = read();
  await sleep(ms);
  const n1 = read();
  const elapsed = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return {
    perSec: ((n1 - n0) * 1000) / elapsed,
    count: n1 - n0,
    ms: elapsed,
    cpu: (cpu.user + cpu.system) / 1000 / elapsed,
  };
}

/** Signals (events plus metric samples) in a batch frame; 0 for any other frame. */
export function signalsIn(bytes: Uint8Array, limits: Limits): number {
  const f = decodeAgentFrame(bytes, limits);
  return f.frame === "batch" ? f.batch.events.length + f.batch.metricIds.length : 0;
}

/**
 * The ceiling: signals/s that decodeAgentFrame alone reaches over `frames` on
 * this machine, now (best of `rounds` rounds of `ms` each, as a ceiling is a maximum).
 */
export function decodeCeiling(frames: readonly Uint8Array[], limits: Limits, ms = 400, rounds = 3): number {
  if (frames.length === 0) return Number.NaN;
  const perPass = frames.reduce((n, f) => n + signalsIn(f, limits), 0);
  if (perPass === 0) return Number.NaN;
  let best = 0;
  for (let r = 0; r < rounds; r++) {
    let passes = 0;
    let sink = 0;
    const t0 = performance.now();
    let elapsed = 0;
    do {
      for (const f of frames) {
        const d = decodeAgentFrame(f, limits);
        if (d.frame === "batch") sink += d.batch.metricIds.length;
      }
      passes++;
      elapsed = performance.now() - t0;
    } while (elapsed < ms);
    if (sink < 0) console.log(sink); // keeps the decode from being optimised away
    best = Math.max(best, (passes * perPass * 1000) / elapsed);
  }
  return best;
}

/** The p-th percentile (0..100) of ascending `sorted`, nearest rank. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p * sorted.length) / 100) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    50,
  );
}

/** A per-instance token, as the manager would issue. */
export function token(): string {
  return crypto.getRandomValues(new Uint8Array(16)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
}
