/**
 * A benchmark guest: a child process running a real @froctal/agent that
 * streams signals to the manager as fast as it can, in batches of exactly
 * BENCH_BATCH signals, until its parent says stop. It taps its own transport
 * to keep a copy of some frames it wrote in the steady state, so the parent
 * can measure the decode ceiling on the very frames that crossed the socket.
 *
 * Environment: FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN (as a
 * driver gives them), BENCH_KIND (gauge | event), BENCH_BATCH, BENCH_CAPTURE.
 * IPC: sends {type: "connected"}, then {type: "done", ...} after a "stop".
 */
import { performance } from "node:perf_hooks";
import { connect, openTransport, type Transport, type TransportFactory } from "@froctal/agent";
import type { GuestReport } from "./guests.js";

const kind = process.env.BENCH_KIND === "event" ? "event" : "gauge";
const batch = Math.max(1, Number(process.env.BENCH_BATCH ?? 100));
const capture = Number(process.env.BENCH_CAPTURE ?? 100);
/** Frames written before the capture starts: the hello and the first declarations are not steady state. */
const CAPTURE_AFTER = 500;
/** The agent's own high-water mark: above it the agent holds writes back, so producing more is wasted. */
const HIGH_WATER = 256 << 10;
/** Events held unacked above which the guest waits for acks (the outbox holds at most 200,000). */
const MAX_HELD = 100_000;
/** Longest synchronous stretch of producing before I/O gets a turn, ms. */
const SLICE_MS = 4;
/** The guest never outlives this, whatever its parent does. */
const MAX_LIFE_MS = 120_000;

const send = (message: unknown) => process.send?.(message);
setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();
process.on("disconnect", () => process.exit(0));

const frames: Uint8Array[] = [];
let written = 0;
let transport: Transport | undefined;
const tap: TransportFactory = (target, events, options) => {
  const inner = openTransport(target, events, options);
  transport = inner;
  return {
    send(frame) {
      if (++written > CAPTURE_AFTER && frames.length < capture) frames.push(new Uint8Array(frame)); // a copy: protobufjs pools its buffers
      inner.send(frame);
    },
    get bufferedAmount() {
      return inner.bufferedAmount;
    },
    close() {
      inner.close();
    },
  };
};

const agent = connect({
  build: { app: "bench-guest", appVersion: "0.1.0" },
  maxBatchEvents: batch,
  flushIntervalMs: 1,
  highWaterMark: HIGH_WATER,
  buffer: { maxEvents: 200_000, maxBytes: 64 << 20 },
  reconnect: { maxAttempts: 3 },
  transport: tap,
});
let errors = 0;
agent.on("error", (err) => {
  if (++errors <= 3) console.error(`bench guest ${process.env.FROCTAL_INSTANCE_ID}: ${err.message}`);
});

const names = Array.from({ length: batch }, (_, i) => (i === 0 ? "load" : `m${i}`));
let stopping = false;
let value = 0;

/** Produces for one slice, then yields to I/O; waits a millisecond while the connection or the outbox is full. */
function pump(): void {
  if (stopping) return;
  const until = performance.now() + SLICE_MS;
  for (let round = 0; ; round++) {
    if ((transport?.bufferedAmount ?? 0) > HIGH_WATER) {
      setTimeout(pump, 1);
      return;
    }
    if (kind === "gauge") {
      // Distinct gauges: a gauge set twice before a flush coalesces (latest wins) and would not count twice.
      for (let i = 0; i < batch; i++) agent.gauge(names[i]!, (++value % 1_000_000) + 0.5);
      agent.flush();
    } else {
      // The agent flushes by itself once maxBatchEvents events are unsent.
      for (let i = 0; i < batch; i++) agent.event("tick", ++value);
      if (round % 64 === 0 && agent.stats.buffered > MAX_HELD) {
        setTimeout(pump, 1);
        return;
      }
    }
    if ((round & 7) === 7 && performance.now() >= until) break;
  }
  setImmediate(pump);
}

/** Where the parent's measuring window began: CPU used and time. */
let mark = { cpu: process.cpuUsage(), at: performance.now() };

process.on("message", (message: { type?: string }) => {
  if (message.type === "mark") mark = { cpu: process.cpuUsage(), at: performance.now() };
  if (message.type !== "stop" || stopping) return;
  stopping = true;
  const cpu = process.cpuUsage(mark.cpu);
  const report: GuestReport = {
    frames,
    cpu: (cpu.user + cpu.system) / 1000 / (performance.now() - mark.at),
    stats: { ...agent.stats },
  };
  send({ type: "done", report });
  void agent.close({ timeoutMs: 200 }).finally(() => process.exit(0));
});

agent.ready();
agent.connected.then(
  () => {
    send({ type: "connected" });
    pump();
  },
  (err: Error) => {
    console.error(`bench guest ${process.env.FROCTAL_INSTANCE_ID} could not connect: ${err.message}`);
    process.exit(2);
  },
);
