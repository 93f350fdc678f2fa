/**
 * GET /metrics: the manager's counters in the Prometheus text format (0.0.4,
 * not OpenMetrics), on a registry of our own (prom-client's default Node
 * metrics fail `promtool check metrics`). Nothing is counted here: every value
 * is read on scrape from counters the manager, its ticker, executor and
 * rollout, and the agent server already keep, so the signal path pays nothing.
 * The tick-duration histogram is written here line by line (histogramText):
 * prom-client's Histogram can only observe values one by one, and the ticker
 * already keeps exact bucket counts and sum.
 */
import type { HostSummary, HostsStats } from "@froctal/driver-hosts";
import type { InstancePhase, Manager, ManagerStatus } from "@froctal/manager";
import type { OvsNetworkStats } from "@froctal/network-ovs";
import { TICK_BUCKET_BOUNDS_MS } from "@froctal/reactive";
import type { ServerStats } from "@froctal/server";
import { Counter, Gauge, Registry } from "prom-client";

/** What one scrape reads: the manager, and the agent server's counters (undefined until it exists). */
export interface MetricSources {
  readonly manager: Manager;
  readonly edge: Readonly<ServerStats> | undefined;
  /** The hosts' view (undefined until it exists): each host, and the refusals at the hosts' endpoint. */
  readonly hosts?: { hosts(): readonly HostSummary[]; readonly stats: HostsStats } | undefined;
  /** The manager's own bridge's driver and its counters (undefined without one: its families then have no samples). */
  readonly network?: NetworkCounters | undefined;
}

/** The counters of the manager's own Open vSwitch network, with its description (the samples' `driver` label). */
export type NetworkCounters = OvsNetworkStats & { readonly driver: string };

const HOST_STATUSES = ["up", "silent", "lost"] as const;

/** Every phase, so a service's count drops to 0 rather than vanishing; a Record, so a new phase must be added here. */
const PHASES: Readonly<Record<InstancePhase, true>> = {
  requested: true,
  starting: true,
  ready: true,
  draining: true,
  stopping: true,
  gone: true,
  failed: true,
};
/** The executor's action kinds, reported at 0 before their first outcome. */
const ACTION_KINDS = ["start", "drain", "stop"] as const;

interface Snapshot {
  readonly stats: Manager["stats"];
  readonly status: ManagerStatus;
  readonly edge: Readonly<ServerStats> | undefined;
  readonly hosts: readonly HostSummary[];
  readonly hostRejections: ReadonlyMap<string, number>;
  readonly network: NetworkCounters | undefined;
}

export interface Metrics {
  readonly contentType: string;
  /** The exposition text for the manager as it is now. */
  scrape(sources: MetricSources): Promise<string>;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  // Read once per scrape (status() walks every instance), then shared by every collect().
  let now: Snapshot | undefined;
  const read = (): Snapshot => {
    if (now === undefined) throw new Error("metrics collected outside a scrape");
    return now;
  };
  const registers = [registry];

  /** A counter whose value is a total kept elsewhere: reset, then set to that total on each scrape. */
  const total = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    values: (s: Snapshot) => Iterable<readonly [Partial<Record<L, string>>, number]>,
  ) =>
    new Counter<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of values(read())) this.inc(labels, value);
      },
    });
  const gauge = <L extends string>(
    name: string,
    help: string,
    labelNames: readonly L[],
    values: (s: Snapshot) => Iterable<readonly [Partial<Record<L, string>>, number]>,
  ) =>
    new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.reset();
        for (const [labels, value] of values(read())) this.set(labels, value);
      },
    });

  total(
    "froctal_signals_ingested_total",
    "Events and metric samples agents sent that the edge handed to the manager.",
    [],
    (s) => [[{}, s.edge?.signalsAccepted ?? 0]],
  );
  total(
    "froctal_agent_rejections_total",
    "Agent connections the edge refused or ended (bad frames, failed hellos, rate limits, timeouts), by error code.",
    ["code"],
    (s) => Object.entries(s.edge?.rejected ?? {}).map(([code, n]) => [{ code }, n] as const),
  );
  gauge("froctal_agent_connections", "Agent transport connections open now, with or without a session.", [], (s) => [
    [{}, s.edge?.connections ?? 0],
  ]);
  gauge("froctal_agent_sessions", "Agent sessions (admitted connections) open now.", [], (s) => [
    [{}, s.edge?.sessions ?? 0],
  ]);

  total("froctal_ticks_total", "Ticks the manager has applied.", [], (s) => [[{}, s.stats.ticker.ticks]]);
  total("froctal_tick_inputs_total", "Inputs (signal batches, driver events, outcomes) applied by ticks.", [], (s) => [
    [{}, s.stats.ticker.applied],
  ]);
  // froctal_tick_duration_seconds, the histogram, is appended in scrape(); a histogram cannot tell the longest tick.
  gauge("froctal_tick_max_duration_seconds", "The longest single tick since the manager started.", [], (s) => [
    [{}, s.stats.ticker.maxTickMs / 1_000],
  ]);

  total(
    "froctal_actions_total",
    "Actions the executor settled (start, drain, stop), by kind and outcome.",
    ["kind", "outcome"],
    (s) => {
      const rows: (readonly [{ kind: string; outcome: string }, number])[] = [];
      const kinds = new Set<string>([...ACTION_KINDS, ...Object.keys(s.stats.actions)]);
      for (const kind of kinds) {
        const counts = s.stats.actions[kind] ?? { succeeded: 0, failed: 0 };
        rows.push([{ kind, outcome: "succeeded" }, counts.succeeded], [{ kind, outcome: "failed" }, counts.failed]);
      }
      return rows;
    },
  );
  total("froctal_action_retries_total", "Action attempts the executor retried after a retryable error.", [], (s) => [
    [{}, s.stats.executor.retried],
  ]);

  total("froctal_rollouts_total", "Configuration generations that ended, by outcome.", ["outcome"], (s) => [
    [{ outcome: "committed" }, s.stats.rollouts.committed],
    [{ outcome: "aborted" }, s.stats.rollouts.aborted],
  ]);
  gauge(
    "froctal_rollout_last_duration_seconds",
    "How long the last generation took, from prepare to its outcome (0 before the first).",
    [],
    (s) => [[{}, s.stats.rollouts.lastDurationMs / 1_000]],
  );
  gauge("froctal_config_generation", "The last configuration generation the manager rolled out.", [], (s) => [
    [{}, s.status.generation],
  ]);

  gauge("froctal_instances", "Instances the manager tracks, by service and phase.", ["service", "phase"], (s) =>
    s.status.services.flatMap((svc) => {
      const counts = new Map<string, number>(Object.keys(PHASES).map((p) => [p, 0]));
      for (const i of svc.instances) counts.set(i.phase, (counts.get(i.phase) ?? 0) + 1);
      return [...counts].map(([phase, n]) => [{ service: svc.name, phase }, n] as const);
    }),
  );
  gauge("froctal_service_target_replicas", "Replicas each service is being converged on.", ["service"], (s) =>
    s.status.services.map((svc) => [{ service: svc.name }, svc.target] as const),
  );
  gauge("froctal_service_recommended_replicas", "Replicas each service's policy recommends now.", ["service"], (s) =>
    s.status.services.map((svc) => [{ service: svc.name }, svc.recommended] as const),
  );
  gauge("froctal_hosts", "Hosts the manager knows, by status (up, silent, lost).", ["status"], (s) =>
    HOST_STATUSES.map((status) => [{ status }, s.hosts.filter((h) => h.status === status).length] as const),
  );
  gauge("froctal_host_guests", "Instances placed on each host.", ["host"], (s) =>
    s.hosts.map((h) => [{ host: h.id }, h.guests] as const),
  );
  total(
    "froctal_host_rejections_total",
    "Host connections and claims the hosts' endpoint refused (credentials, bad frames, claims on others' instances), by error code.",
    ["code"],
    (s) => [...s.hostRejections].map(([code, n]) => [{ code }, n] as const),
  );
  // Labelled by the driver, so that without one they have no sample: "0 commits" would claim a network.
  const network = (s: Snapshot, value: (n: OvsNetworkStats) => number) =>
    s.network === undefined ? [] : [[{ driver: s.network.driver }, value(s.network)] as const];
  gauge("froctal_network_generation", "The configuration generation the network runs.", ["driver"], (s) =>
    network(s, () => s.status.network?.generation ?? 0),
  );
  total("froctal_network_prepares_total", "Generations the network driver staged.", ["driver"], (s) =>
    network(s, (n) => n.prepares),
  );
  total("froctal_network_commits_total", "Generations the network driver applied on the switch.", ["driver"], (s) =>
    network(s, (n) => n.commits),
  );
  total(
    "froctal_network_refusals_total",
    "Prepares and commits the network driver refused (the generation aborted, or its commit failed).",
    ["driver"],
    (s) => network(s, (n) => n.rejected),
  );
  total(
    "froctal_network_converge_failures_total",
    "Rounds of the network's converge loop that failed (the switch not answering).",
    ["driver"],
    (s) => network(s, (n) => n.failures),
  );
  total(
    "froctal_network_reapplied_total",
    "Rounds of the converge loop that found the switch off the committed state and put it back.",
    ["driver"],
    (s) => network(s, (n) => n.reapplied),
  );
  total("froctal_journal_entries_total", "Decisions written to the journal (`froctal events`).", [], (s) => [
    [{}, s.stats.journal.written],
  ]);

  return {
    contentType: registry.contentType,
    async scrape({ manager, edge, hosts, network }) {
      const hostRejections = hosts?.stats.rejected ?? new Map<string, number>();
      const status = manager.status();
      now = { stats: manager.stats, status, edge, hosts: hosts?.hosts() ?? [], hostRejections, network };
      // prom-client runs every collect() synchronously inside metrics(), before its first await;
      // the histogram is read in the same turn, so every value is of the same moment.
      let text: Promise<string>;
      let ticks: string;
      try {
        text = registry.metrics();
        const { tickBuckets, busyMs } = now.stats.ticker;
        ticks = histogramText(TICK_HISTOGRAM, TICK_BUCKET_BOUNDS_MS, tickBuckets, busyMs);
      } finally {
        now = undefined;
      }
      return `${await text}\n${ticks}`;
    },
  };
}

const TICK_HISTOGRAM = {
  name: "froctal_tick_duration_seconds",
  help: "How long each tick took, applying its inputs and running the reactions they triggered.",
} as const;

/**
 * A histogram in the text format (0.0.4) from counts kept elsewhere: `counts`
 * per bucket, not cumulative, with one more entry than `boundsMs` (the ticks
 * past every bound); `sumMs` the sum of what was observed. Bounds are written
 * in seconds; each bucket line counts everything up to its bound, and +Inf,
 * like _count, everything. Ends with a newline, as prom-client's text does.
 */
export function histogramText(
  metric: { readonly name: string; readonly help: string },
  boundsMs: readonly number[],
  counts: readonly number[],
  sumMs: number,
): string {
  if (counts.length !== boundsMs.length + 1) {
    throw new Error(`${metric.name}: ${counts.length} bucket counts for ${boundsMs.length} bounds`);
  }
  const { name } = metric;
  const lines = [`# HELP ${name} ${metric.help}`, `# TYPE ${name} histogram`];
  let below = 0;
  for (let i = 0; i < counts.length; i++) {
    below += counts[i]!;
    const le = i < boundsMs.length ? String(boundsMs[i]! / 1_000) : "+Inf";
    lines.push(`${name}_bucket{le="${le}"} ${below}`);
  }
  lines.push(`${name}_sum ${sumMs / 1_000}`, `${name}_count ${below}`);
  return `${lines.join("\n")}\n`;
}
