/**
 * The manager-side fixtures the benchmarks share: a one-service fleet whose
 * replicas function reads metric sums (so the derivations are live on every
 * tick), and joining a launched instance as the server edge would (with
 * @froctal/testkit's counting driver and session).
 */

import { defineFleet, type FleetSpec, type LaunchSpec, type Manager, type ServiceView } from "@froctal/manager";
import { type Batch, type Event, type Hello, LifecyclePhase, MetricKind, PROTOCOL_VERSION } from "@froctal/protocol";
import { CountingSession } from "@froctal/testkit";

export const SERVICE = "web";

export interface BenchFleetOptions {
  /** Replicas the service holds (min = max), or a function of the service. */
  readonly replicas: number | ((service: ServiceView) => number);
  /** Per-instance load metric: the reconciler reads it to pick scale-in victims. Default "load"; null for none. */
  readonly loadMetric?: string | null;
  readonly startTimeoutMs?: number;
  /** Most replicas added in one scaling step (default: all at once). */
  readonly maxStepUp?: number;
  /** What a fixed count's replicas function reads of "load" every tick (default "sum"). */
  readonly reads?: "sum" | "max";
}

/** Capacity one replica serves, in units of the summed "load" metric. */
export const LOAD_PER_REPLICA = 1_000_000;

export function benchFleet(options: BenchFleetOptions): FleetSpec {
  const { replicas } = options;
  const loadMetric = options.loadMetric === undefined ? "load" : options.loadMetric;
  const fixed = typeof replicas === "number";
  const reads = options.reads ?? "sum";
  return defineFleet({
    name: "bench",
    services: {
      [SERVICE]: {
        image: "bench-guest",
        ...(fixed ? { min: replicas, max: replicas } : {}),
        ...(loadMetric === null ? {} : { loadMetric }),
        // A fixed count still reads the load, clamped by min = max: the derivation re-runs every tick it moves.
        replicas: fixed ? (s) => Math.ceil(s.metric("load")[reads] / LOAD_PER_REPLICA) : (s) => replicas(s),
        startTimeoutMs: options.startTimeoutMs ?? 600_000,
        scaleUp: { stabilizationMs: 0, cooldownMs: 0, maxStep: options.maxStepUp ?? Number.POSITIVE_INFINITY },
      },
    },
  });
}

/** What a launched instance needs to connect: its id and token, read from the LaunchSpec env as a guest would. */
export interface Launched {
  readonly instanceId: string;
  readonly token: string;
  readonly env: Readonly<Record<string, string>>;
}

export function launched(spec: LaunchSpec): Launched {
  return { instanceId: spec.instanceId, token: spec.env.FROCTAL_TOKEN ?? "", env: spec.env };
}

export function hello(l: Launched, streamId: string): Hello {
  return {
    minVersion: PROTOCOL_VERSION,
    maxVersion: PROTOCOL_VERSION,
    instanceId: l.instanceId,
    token: l.token,
    streamId,
    runningGeneration: 0,
    build: { app: "bench-guest", appVersion: "0.1.0", agentVersion: "0.1.0", features: [], platform: "bench" },
  };
}

export const readyEvent: Event = {
  atMs: 0,
  kind: "lifecycle",
  lifecycle: { phase: LifecyclePhase.LIFECYCLE_PHASE_READY, task: "", detail: "" },
};

/** Metric names of a bench instance: "load" first, then m1, m2, ... */
export function metricNames(n: number): string[] {
  return Array.from({ length: n }, (_, i) => (i === 0 ? "load" : `m${i}`));
}

/** An instance's first batch: ready, and the declaration and a first value of each of `names`. */
export function firstBatch(names: readonly string[], value = 1): Batch {
  return {
    firstSeq: 1,
    events: [readyEvent],
    metricDecls: names.map((name, i) => ({ id: i + 1, name, kind: MetricKind.METRIC_KIND_GAUGE, unit: "" })),
    metricIds: names.map((_, i) => i + 1),
    metricValues: names.map(() => value),
    sentAtMs: 0,
  };
}

/** A later batch: one new value for each of the first `count` declared metrics. */
export function sampleBatch(count: number, value: (i: number) => number): Batch {
  return {
    firstSeq: 0,
    events: [],
    metricDecls: [],
    metricIds: Array.from({ length: count }, (_, i) => i + 1),
    metricValues: Array.from({ length: count }, (_, i) => value(i)),
    sentAtMs: 0,
  };
}

/**
 * Connects a launched instance the way the server edge would, in process:
 * admit its hello, open a session, and send its first batch (ready, and one
 * value of each of `names`). The signals land in the next tick.
 */
export function join(manager: Manager, l: Launched, names: readonly string[]): CountingSession {
  const session = new CountingSession(l.instanceId, `stream-${l.instanceId}`);
  const h = hello(l, session.streamId);
  const admission = manager.ingest.admit(h, {});
  if (!admission.ok) throw new Error(`${l.instanceId} was not admitted: ${admission.code} ${admission.reason}`);
  manager.ingest.opened(session, h);
  manager.ingest.batch(session, firstBatch(names));
  return session;
}
