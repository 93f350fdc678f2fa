/**
 * Benchmark (issue "HA on etcd"): what the state costs per committed
 * generation, SQLite beside etcd, in the same run. One generation writes what
 * a rollout or scale step writes through the StateStore port: the generation
 * reserved (reserveGenerations), the record of each of its N instances
 * (putInstance), then flush(), timed until it resolves, when the writes are
 * durable: for SQLite a checkpoint that syncs the WAL and the database file
 * (`synchronous=NORMAL`), for etcd one transaction acknowledged by a majority
 * of members (each syncs its own WAL). The etcd stores write as a leader does:
 * fenced by a campaign key (campaign() + guard), so each generation is one
 * guarded transaction (at most 127 writes: N <= 100 fits in one).
 *   sqlite    @froctal/state-sqlite on a file in a temp dir;
 *   etcd-1    @froctal/state-etcd on one member;
 *   etcd-3    @froctal/state-etcd on three members (@froctal/etcd-members, loopback).
 * The stores take turns in rounds, so drift on a shared machine touches each
 * alike. "issued" is what the calls before flush() take, which the manager's
 * tick pays: SQLite applies each write there, etcd only queues it.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { type Cluster, startCluster } from "@froctal/etcd-members";
import type { InstanceRecord, StateStore } from "@froctal/manager";
import type { FroctalError } from "@froctal/primitives";
import { campaign, type Leadership, openEtcdState } from "@froctal/state-etcd";
import { openSqliteState } from "@froctal/state-sqlite";
import type { Report } from "./figures.js";
import { percentile, token } from "./measure.js";

const SIZES = [1, 10, 100] as const;
const ROUNDS = 20;
/** Generations per store per round; the first round's first WARMUP are not counted. */
const PER_ROUND = 20;
const WARMUP = 10;
const PREFIX = "/bench/";

type StoreName = "sqlite" | "etcd-1" | "etcd-3";

interface Subject {
  readonly name: StoreName;
  readonly store: StateStore;
  readonly errors: FroctalError[];
  close(): Promise<void>;
}

interface Sample {
  /** reserveGenerations + N putInstance, until they return. */
  readonly issuedMs: number;
  /** From the first call until flush() resolved. */
  readonly durableMs: number;
}

export async function stateWrites(report: Report): Promise<void> {
  report.say(
    `one generation = reserveGenerations + N putInstance + flush(), timed until flush() resolves; ` +
      `${ROUNDS} rounds of ${PER_ROUND} generations per store and size, stores in turn; etcd writes fenced as a leader's`,
  );
  const cleanups: (() => Promise<void>)[] = [];
  try {
    const dir = await mkdtemp(join(tmpdir(), "froctal-bench-state-"));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const one = await startCluster(1);
    cleanups.push(() => one.stop());
    const three = await startCluster(3);
    cleanups.push(() => three.stop());
    const subjects: Subject[] = [sqlite(dir), await etcd("etcd-1", one), await etcd("etcd-3", three)];
    for (const s of subjects) cleanups.push(() => s.close());

    for (const n of SIZES) {
      const fleet = `writes-${n}`;
      for (const s of subjects) await s.store.load(fleet);
      const samples = new Map<StoreName, Sample[]>(subjects.map((s) => [s.name, []]));
      let generation = 0;
      for (let round = 0; round < ROUNDS; round++) {
        for (const s of subjects) {
          for (let i = 0; i < PER_ROUND; i++) {
            generation++;
            const sample = await oneGeneration(s.store, fleet, generation, n);
            if (round > 0 || i >= WARMUP) samples.get(s.name)!.push(sample);
          }
        }
      }
      const label = `${n} instance${n === 1 ? "" : "s"}`;
      const summaries = new Map(subjects.map((s) => [s.name, summary(samples.get(s.name)!)]));
      for (const s of subjects) {
        const sum = summaries.get(s.name)!;
        report.add(`${s.name}, ${label}: ms per generation, p50`, sum.p50, "ms", {
          note: `mean ${sum.mean.toFixed(2)} ms = ${sum.perSec.toFixed(0)} generations/s one after another; issued p50 ${sum.issuedP50.toFixed(3)} ms; ${sum.n} generations`,
        });
        report.add(`${s.name}, ${label}: ms per generation, p99`, sum.p99, "ms");
      }
      const base = summaries.get("sqlite")!;
      for (const name of ["etcd-1", "etcd-3"] as const) {
        const sum = summaries.get(name)!;
        report.add(`${name} / sqlite, ${label}, p50`, sum.p50 / base.p50, "times", {
          note: `mean ${(sum.mean / base.mean).toFixed(2)}x, p99 ${(sum.p99 / base.p99).toFixed(2)}x`,
        });
      }
    }
    for (const s of subjects) {
      if (s.errors.length > 0)
        report.say(`warning: ${s.name}: ${s.errors.length} write(s) failed, the first: ${s.errors[0]!.message}`);
    }
  } finally {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
  }
}

function sqlite(dir: string): Subject {
  const errors: FroctalError[] = [];
  const store = openSqliteState({ dir, onError: (error) => errors.push(error) });
  return { name: "sqlite", store, errors, close: () => store.close() };
}

/** A store on `cluster`, its writes fenced by a leadership this process holds. */
async function etcd(name: StoreName, cluster: Cluster): Promise<Subject> {
  const errors: FroctalError[] = [];
  const endpoints = cluster.endpoints;
  const leadership: Leadership = campaign({ endpoints, prefix: PREFIX, fleet: "bench", candidateId: name });
  const store = openEtcdState({
    endpoints,
    prefix: PREFIX,
    guard: () => leadership.guard(),
    onError: (error) => errors.push(error),
  });
  await leadership.elected;
  return {
    name,
    store,
    errors,
    close: async () => {
      await store.close();
      await leadership.close();
    },
  };
}

/** The records a generation writes, made before the clock starts (tokens are random). */
function records(generation: number, n: number): InstanceRecord[] {
  const out: InstanceRecord[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      id: `web-${i}`,
      service: "web",
      ordinal: i,
      token: token(),
      phase: "ready",
      generation,
      configJson: `{"generation":${generation},"replicas":${n},"self":"web-${i}"}`,
    });
  }
  return out;
}

async function oneGeneration(store: StateStore, fleet: string, generation: number, n: number): Promise<Sample> {
  const batch = records(generation, n);
  const t0 = performance.now();
  store.reserveGenerations(fleet, generation);
  for (const r of batch) store.putInstance(fleet, r);
  const t1 = performance.now();
  await store.flush();
  return { issuedMs: t1 - t0, durableMs: performance.now() - t0 };
}

interface Summary {
  readonly n: number;
  readonly p50: number;
  readonly p99: number;
  readonly mean: number;
  readonly perSec: number;
  readonly issuedP50: number;
}

function summary(samples: readonly Sample[]): Summary {
  const durable = samples.map((s) => s.durableMs).sort((a, b) => a - b);
  const issued = samples.map((s) => s.issuedMs).sort((a, b) => a - b);
  const mean = durable.reduce((sum, x) => sum + x, 0) / durable.length;
  return {
    n: durable.length,
    p50: percentile(durable, 50),
    p99: percentile(durable, 99),
    mean,
    perSec: 1000 / mean,
    issuedP50: percentile(issued, 50),
  };
}
