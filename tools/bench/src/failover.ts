/**
 * Benchmark (issue "HA on etcd"): how long a fleet goes without a leader.
 * On a real 3-member etcd cluster (@froctal/etcd-members), candidates run in
 * processes of their own (failover-candidate.ts): each campaigns, loads the
 * fleet as a standby, and once elected makes its first fenced write. Timed
 * from the moment this process signals the leader to the moment etcd
 * acknowledged the standby's first fenced write, in rounds: the standby of
 * one round is the leader of the next.
 *   SIGKILL, TTL 2 s and 5 s  the leader dies; its lease must expire first. Each kill
 *                             comes at a random point of a keepalive interval (TTL/3),
 *                             so the trials sample the renewal phase evenly;
 *   SIGTERM                   the clean handover: the leader resigns (revokes its lease).
 * Baseline, same cluster, same run: one fenced write (one put in a transaction
 * guarded by the leader's campaign key), from this process, one at a time.
 * Beside them, the figure the issue compares with: Kubernetes' default
 * leader-election lease, 15 s.
 */
import { type ChildProcess, fork } from "node:child_process";
import { performance } from "node:perf_hooks";
import { startCluster } from "@froctal/etcd-members";
import type { InstanceRecord } from "@froctal/manager";
import { campaign, openEtcdState } from "@froctal/state-etcd";
import type { Report } from "./figures.js";
import { median, percentile, sleep } from "./measure.js";

const ROUNDS = 5;
const KILL_TTLS = [2, 5] as const;
/** The handover does not wait for the lease: any TTL gives the same; this is campaign()'s default. */
const HANDOVER_TTL = 5;
const BASELINE_WRITES = 200;
const BASELINE_WARMUP = 20;
/** Kubernetes' client-go leader election, LeaseDuration's default. */
const KUBERNETES_LEASE_MS = 15_000;
/** The "done": the standby acts within the lease TTL and one second. */
const SLACK_MS = 1_000;
const PREFIX = "/bench/";
/**
 * A standby's key is listed a little before its campaign watches its
 * predecessor's (a fresh process, a new watch stream): a standby of a real
 * fleet has stood by for long, so the leader goes this long after.
 */
const SETTLE_MS = 1_000;
const CANDIDATE = new URL("./failover-candidate.js", import.meta.url);

export async function failover(report: Report): Promise<void> {
  report.say(
    `3 etcd members on loopback; candidates in processes of their own, each campaigning, loading the fleet and, ` +
      `once elected, writing one fenced record; ${ROUNDS} rounds per case, the standby of one the leader of the next`,
  );
  const cluster = await startCluster(3);
  try {
    const endpoints = cluster.endpoints;
    const write = await fencedWrites(endpoints);
    report.add("one fenced write (1 put, guarded txn), p50", write.p50, "ms", {
      note: `p99 ${write.p99.toFixed(2)} ms; ${BASELINE_WRITES} one at a time, from this process`,
    });

    const kills: { ttl: number; trials: Trials }[] = [];
    for (const ttl of KILL_TTLS) {
      const trials = await rounds(endpoints, `kill-ttl-${ttl}`, ttl, "SIGKILL");
      kills.push({ ttl, trials });
      spread(
        report,
        `SIGKILL, TTL ${ttl} s: leader killed -> standby's first fenced write`,
        trials,
        ttl * 1000 + SLACK_MS,
      );
    }
    const handover = await rounds(endpoints, "handover", HANDOVER_TTL, "SIGTERM");
    spread(report, "SIGTERM, resign: leader told to stop -> standby's first fenced write", handover);

    report.add("Kubernetes default leader lease (client-go LeaseDuration)", KUBERNETES_LEASE_MS, "ms", {
      note: "a controller's failover takes about this long at default settings",
    });
    for (const { ttl, trials } of kills)
      report.add(`Kubernetes lease / SIGKILL TTL ${ttl} s, median`, KUBERNETES_LEASE_MS / trials.median, "times");
    report.add("SIGTERM handover median / one fenced write p50", handover.median / write.p50, "times");
  } finally {
    await cluster.stop();
  }
}

interface Trials {
  readonly total: readonly number[];
  readonly median: number;
  /** Signal -> the standby saw itself elected (its campaign key read back). */
  readonly elected: readonly number[];
  /** Elected -> its first fenced write acknowledged. */
  readonly write: readonly number[];
  /** Where the time went, when the leader said (SIGTERM: signal heard, lease revoked). */
  readonly detail: string;
  /** Rounds not counted, each with why. */
  readonly skipped: readonly string[];
}

function spread(report: Report, label: string, t: Trials, targetMs?: number): void {
  const sorted = [...t.total].sort((a, b) => a - b);
  report.add(`${label}, min`, sorted[0] ?? Number.NaN, "ms");
  report.add(`${label}, median`, t.median, "ms", {
    note: `medians: elected after ${median(t.elected).toFixed(1)} ms${t.detail}, its first write then ${median(t.write).toFixed(1)} ms; ${sorted.length} trials`,
  });
  report.add(`${label}, max`, sorted.at(-1) ?? Number.NaN, "ms", {
    ...(targetMs === undefined ? {} : { target: { cmp: "<=", value: targetMs } }),
  });
  for (const why of t.skipped) report.say(`warning: a round was not counted: ${why}`);
}

/** One fenced single-put write at a time, from a leader in this process: p50 and p99 in ms. */
async function fencedWrites(endpoints: readonly string[]): Promise<{ p50: number; p99: number }> {
  const fleet = "baseline";
  const leadership = campaign({ endpoints, prefix: PREFIX, fleet, candidateId: "bench", ttlSeconds: HANDOVER_TTL });
  const refused: string[] = [];
  const store = openEtcdState({
    endpoints,
    prefix: PREFIX,
    guard: () => leadership.guard(),
    onError: (error) => refused.push(error.message),
  });
  try {
    await store.load(fleet);
    await leadership.elected;
    const took: number[] = [];
    for (let i = 0; i < BASELINE_WARMUP + BASELINE_WRITES; i++) {
      const rec = record(`web-${i % 10}`, i);
      const t = performance.now();
      store.putInstance(fleet, rec);
      await store.flush();
      if (i >= BASELINE_WARMUP) took.push(performance.now() - t);
    }
    if (refused.length > 0) throw new Error(`fenced writes were refused: ${refused[0]}`);
    took.sort((a, b) => a - b);
    return { p50: percentile(took, 50), p99: percentile(took, 99) };
  } finally {
    await store.close();
    await leadership.close();
  }
}

function record(id: string, generation: number): InstanceRecord {
  return {
    id,
    service: "web",
    ordinal: 0,
    token: "0123456789abcdef0123456789abcdef",
    phase: "ready",
    generation,
    configJson: `{"generation":${generation}}`,
  };
}

/**
 * ROUNDS handovers on one fleet of its own: leader L elected and written,
 * standby S standing by (for SETTLE_MS), L signalled, S's first fenced write timed; then S
 * leads the next round. Checks at the end, through a store of its own, that
 * every counted standby's record is in etcd.
 */
async function rounds(
  endpoints: readonly string[],
  fleet: string,
  ttl: number,
  signal: "SIGKILL" | "SIGTERM",
): Promise<Trials> {
  const everyone: Candidate[] = [];
  const spawn = (id: string) => {
    const c = new Candidate(endpoints, fleet, id, ttl);
    everyone.push(c);
    return c;
  };
  const total: number[] = [];
  const elected: number[] = [];
  const write: number[] = [];
  const skipped: string[] = [];
  const counted: string[] = [];
  /** SIGTERM only: signal -> heard by the leader, heard -> lease revoked, revoked -> standby elected. */
  const heard: number[] = [];
  const revoked: number[] = [];
  const toElected: number[] = [];
  const waitMs = ttl * 1000 + 10_000;
  try {
    let leader = spawn(`${fleet}-0`);
    await leader.landed(waitMs);
    for (let round = 1; round <= ROUNDS; round++) {
      const standby = spawn(`${fleet}-${round}`);
      await standby.standingBy(15_000);
      await sleep(SETTLE_MS);
      // Kill at a random point of the leader's keepalive interval: how long its lease has left varies by that much.
      if (signal === "SIGKILL") await sleep(Math.random() * ((ttl * 1000) / 3));
      const early = standby.early();
      const at = performance.timeOrigin + performance.now();
      leader.signal(signal);
      const landed = await standby.landed(waitMs);
      if (early !== undefined) {
        skipped.push(`${standby.id} led before ${leader.id} was signalled (${early})`);
      } else {
        total.push(landed.landedAt - at);
        elected.push(landed.electedAt - at);
        write.push(landed.landedAt - landed.electedAt);
        counted.push(standby.id);
      }
      await leader.exited(5_000);
      const resigned = leader.resigned();
      if (resigned !== undefined && early === undefined) {
        heard.push(resigned.at - at);
        revoked.push(resigned.revokedAt - resigned.at);
        toElected.push(landed.electedAt - resigned.revokedAt);
      }
      leader = standby;
    }
  } finally {
    await Promise.all(everyone.map((c) => c.kill()));
  }
  await checkLanded(endpoints, fleet, counted);
  const detail =
    heard.length === 0
      ? ""
      : ` (the leader heard the signal after ${median(heard).toFixed(1)} ms, its lease was revoked ${median(revoked).toFixed(1)} ms later, ` +
        `the standby elected ${median(toElected).toFixed(1)} ms after that)`;
  return { total, median: median(total), elected, write, detail, skipped };
}

/** Reads the fleet back as a manager would at start: every counted standby's first write must be there. */
async function checkLanded(endpoints: readonly string[], fleet: string, ids: readonly string[]): Promise<void> {
  const reader = openEtcdState({ endpoints, prefix: PREFIX });
  try {
    const stored = new Set((await reader.load(fleet)).instances.map((i) => i.id));
    const missing = ids.filter((id) => !stored.has(id));
    if (missing.length > 0) throw new Error(`${fleet}: the first writes of ${missing.join(", ")} are not in etcd`);
  } finally {
    await reader.close();
  }
}

type Said =
  | { readonly type: "standing-by" }
  | { readonly type: "landed"; readonly electedAt: number; readonly landedAt: number }
  | { readonly type: "resigned"; readonly at: number; readonly revokedAt: number }
  | { readonly type: "failed"; readonly message: string };

/** The parent's side of one failover-candidate.ts process. */
class Candidate {
  readonly #child: ChildProcess;
  readonly #heard: Said[] = [];
  readonly #listeners = new Set<() => void>();
  readonly #exit: Promise<void>;

  constructor(
    endpoints: readonly string[],
    fleet: string,
    readonly id: string,
    ttl: number,
  ) {
    this.#child = fork(CANDIDATE, [endpoints.join(","), PREFIX, fleet, id, String(ttl)], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.#child.on("message", (m: Said) => {
      this.#heard.push(m);
      for (const l of [...this.#listeners]) l();
    });
    this.#exit = new Promise((resolve) =>
      this.#child.once("exit", () => {
        resolve();
        for (const l of [...this.#listeners]) l();
      }),
    );
  }

  /** When it heard SIGTERM and when its lease was revoked, if it said. */
  resigned(): { readonly at: number; readonly revokedAt: number } | undefined {
    const m = this.#heard.find((h) => h.type === "resigned");
    return m?.type === "resigned" ? m : undefined;
  }

  /** What it said that shows it led already, if anything: a standby must not have. */
  early(): string | undefined {
    const m = this.#heard.find((h) => h.type !== "standing-by");
    return m === undefined ? undefined : m.type === "failed" ? m.message : "it wrote";
  }

  async standingBy(ms: number): Promise<void> {
    await this.#until((h) => h.type === "standing-by", ms, "stand by");
  }

  async landed(ms: number): Promise<{ readonly electedAt: number; readonly landedAt: number }> {
    const m = await this.#until((h) => h.type === "landed", ms, "land its first fenced write");
    if (m.type !== "landed") throw new Error("unreachable");
    return m;
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  /** Waits for it to exit; SIGKILLs it past `ms`. */
  async exited(ms: number): Promise<void> {
    const timer = setTimeout(() => this.#child.kill("SIGKILL"), ms);
    await this.#exit;
    clearTimeout(timer);
  }

  async kill(): Promise<void> {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill("SIGKILL");
    await this.#exit;
  }

  /** Resolves with the first message `wanted` accepts; rejects on a failure, on exit, or after `ms`. */
  #until(wanted: (h: Said) => boolean, ms: number, what: string): Promise<Said> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const hit = this.#heard.find(wanted);
        const failure = this.#heard.find((h) => h.type === "failed");
        const gone = this.#child.exitCode !== null || this.#child.signalCode !== null;
        if (hit === undefined && failure === undefined && !gone) return;
        clearTimeout(timer);
        this.#listeners.delete(check);
        if (hit !== undefined) resolve(hit);
        else if (failure?.type === "failed") reject(new Error(failure.message));
        else reject(new Error(`${this.id} exited before it could ${what}`));
      };
      const timer = setTimeout(() => {
        this.#listeners.delete(check);
        reject(new Error(`${this.id} did not ${what} within ${ms} ms`));
      }, ms);
      this.#listeners.add(check);
      check();
    });
  }
}
