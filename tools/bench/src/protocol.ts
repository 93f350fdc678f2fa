/**
 * Benchmark 1 (issue "foundation"): agent -> receiver throughput over a real
 * WebSocket, at 1, 10 and 100 signals per batch, for gauges and for events.
 * A real @froctal/agent in a child process streams as fast as it can to
 * @froctal/server in this process, behind a counting Ingest. The ceiling is
 * decodeAgentFrame alone, in a loop over frames that guest wrote, measured
 * right after on the same machine. Between the two, "server alone": a raw
 * WebSocket client process replays those frames, many per write, so the
 * server runs at its own limit and the agent's share of the end-to-end
 * figure shows. Also: the bundled size of a trivial guest.
 */
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { DEFAULT_LIMITS, encodeAgentFrame, PROTOCOL_VERSION } from "@froctal/protocol";
import { createAgentServer, type RateLimits } from "@froctal/server";
import { type CountingIngest, createCountingIngest } from "./counting-ingest.js";
import type { Report } from "./figures.js";
import { Guest, type GuestKind, Replay } from "./guests.js";
import { decodeCeiling, type Rate, rateOver, sleep, token } from "./measure.js";

/** Per-connection limits high enough that the server never throttles a benchmark guest. */
export const UNTHROTTLED: RateLimits = { framesPerSec: 10_000_000, signalsPerSec: 1_000_000_000, burstSeconds: 2 };

const BATCHES = [1, 10, 100] as const;
const KINDS: readonly GuestKind[] = ["gauge", "event"];
const WARMUP_MS = 500;
const WINDOW_MS = 2_000;
const TARGET_SHARE = 0.5;

export async function protocol(report: Report): Promise<void> {
  const ingest = createCountingIngest();
  const server = createAgentServer({ ingest, rate: UNTHROTTLED });
  const endpoint = await server.listenWebSocket({ host: "127.0.0.1", port: 0 });
  const receiver: Receiver = { ingest, url: endpoint.address };
  report.say(`agent (child process) -> ${endpoint.address} -> @froctal/server -> counting Ingest`);
  try {
    for (const kind of KINDS) {
      for (const batch of BATCHES) {
        const label = `${kind === "gauge" ? "gauges" : "events"}, batch ${batch}`;
        const e2e = await endToEnd(receiver, kind, batch);
        report.add(`${label}: end-to-end`, e2e.rate.perSec, "signals/s", {
          note: `CPU: receiver ${Math.round(e2e.rate.cpu * 100)} %, agent ${Math.round(e2e.agentCpu * 100)} % of a core`,
        });
        const alone = await serverAlone(receiver, `bench-replay-${kind}-${batch}`, e2e.frames);
        const ceiling = decodeCeiling(e2e.frames, DEFAULT_LIMITS);
        report.add(`${label}: server alone (replayed frames)`, alone.perSec, "signals/s", {
          note: `${Math.round((alone.perSec / ceiling) * 100)} % of the ceiling; CPU: server ${Math.round(alone.cpu * 100)} % of a core`,
        });
        report.add(`${label}: decode ceiling`, ceiling, "signals/s");
        report.add(
          `${label}: end-to-end / ceiling`,
          e2e.rate.perSec / ceiling,
          "share",
          batch > 1 ? { target: { cmp: ">=", value: TARGET_SHARE } } : { note: "unbatched: no target" },
        );
      }
    }
  } finally {
    await server.close();
  }
  report.add("bundle of a trivial guest with the agent linked", await bundleSize(), "bytes", {
    note: "esbuild: platform node, bundle, minify",
  });
}

/** The server being measured: where agents connect, and the counting Ingest behind it. */
interface Receiver {
  readonly ingest: CountingIngest;
  readonly url: string;
}

/** A real agent in a child process at full speed: the rate the server took, and frames the agent wrote. */
async function endToEnd(
  receiver: Receiver,
  kind: GuestKind,
  batch: number,
): Promise<{ rate: Rate; agentCpu: number; frames: readonly Uint8Array[] }> {
  const instanceId = `bench-${kind}-${batch}`;
  const secret = token();
  receiver.ingest.tokens.set(instanceId, secret);
  const guest = new Guest({
    env: { FROCTAL_MANAGER_URL: receiver.url, FROCTAL_INSTANCE_ID: instanceId, FROCTAL_TOKEN: secret },
    kind,
    batch,
    capture: Math.max(20, Math.ceil(2_000 / batch)),
  });
  try {
    await guest.connected;
    await sleep(WARMUP_MS);
    guest.mark();
    const rate = await rateOver(() => receiver.ingest.signals, WINDOW_MS);
    const done = await guest.stop();
    return { rate, agentCpu: done?.cpu ?? Number.NaN, frames: done?.frames ?? [] };
  } finally {
    guest.kill();
  }
}

/** The same frames from a raw client process, many per write: the server at its own limit. */
async function serverAlone(receiver: Receiver, instanceId: string, frames: readonly Uint8Array[]): Promise<Rate> {
  if (frames.length === 0) return { perSec: Number.NaN, count: 0, ms: 0, cpu: Number.NaN };
  const secret = token();
  receiver.ingest.tokens.set(instanceId, secret);
  const replay = new Replay(receiver.url, replayHello(instanceId, secret), frames);
  try {
    await replay.connected;
    await sleep(WARMUP_MS);
    return await rateOver(() => receiver.ingest.signals, WINDOW_MS);
  } finally {
    replay.kill();
  }
}

/** The hello a replay client opens its session with. */
export function replayHello(instanceId: string, secret: string): Uint8Array {
  return encodeAgentFrame({
    hello: {
      minVersion: PROTOCOL_VERSION,
      maxVersion: PROTOCOL_VERSION,
      instanceId,
      token: secret,
      streamId: `replay-${instanceId}`,
      build: { app: "bench-replay", appVersion: "0.1.0", agentVersion: "0.1.0", platform: "bench" },
    },
  });
}

const AGENT_DIR = fileURLToPath(new URL("../../../packages/agent/", import.meta.url));

/** The agent's own measure: packages/agent/scripts/size.mjs bundles a trivial guest as an image would. */
async function bundleSize(): Promise<number> {
  const script = `${AGENT_DIR}scripts/size.mjs`;
  const { stdout } = await promisify(execFile)(process.execPath, [script, "--json"], { timeout: 60_000 });
  return (JSON.parse(stdout.trim().split("\n").pop() ?? "{}") as { bytes?: number }).bytes ?? Number.NaN;
}
