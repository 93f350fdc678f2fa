/** The benchmarks by the name given on the command line, in the order `bench` runs them. */
import { boot } from "./boot.js";
import { dashboard } from "./dashboard.js";
import { failover } from "./failover.js";
import type { Report } from "./figures.js";
import { hostsRoundtrip } from "./hosts-roundtrip.js";
import { hostsScale } from "./hosts-scale.js";
import { incrementality } from "./incrementality.js";
import { ingest } from "./ingest.js";
import { latency } from "./latency.js";
import { memory } from "./memory.js";
import { network } from "./network.js";
import { protocol } from "./protocol.js";
import { replaySpeed } from "./replay-speed.js";
import { rollout } from "./rollout.js";
import { stateWrites } from "./state-writes.js";

export interface Benchmark {
  /** The issue and item it answers. */
  readonly issue: string;
  readonly title: string;
  run(report: Report): Promise<void>;
}

export const BENCHMARKS: Readonly<Record<string, Benchmark>> = {
  protocol: { issue: "foundation", title: "agent -> server throughput vs. the decode ceiling", run: protocol },
  ingest: { issue: "manager (a)", title: "agents in processes -> manager store, derivations live", run: ingest },
  incrementality: {
    issue: "manager (b)",
    title: "cost per signal at 100,000 instances vs. 100; a policy reading max at 1,000 / 10,000 / 100,000",
    run: incrementality,
  },
  latency: { issue: "manager (c)", title: "signal -> driver action under background load", run: latency },
  memory: { issue: "manager (d)", title: "heap per tracked idle instance", run: memory },
  rollout: {
    issue: "rollout",
    title: "first prepare -> last commit of one generation, 10 / 100 / 1,000 real agents",
    run: rollout,
  },
  boot: {
    issue: "libvirt",
    title: "launch -> registered (process, VM); libvirt calls/s on the test driver",
    run: boot,
  },
  replay: {
    issue: "dashboard (record and replay)",
    title: "replay of a recorded trace, signals/s, vs. the same run's live ingest of the same signals",
    run: replaySpeed,
  },
  dashboard: {
    issue: "dashboard",
    title: "the dashboard stream's cost at 10,000 tracked instances: bytes/s, manager CPU with / without a client",
    run: dashboard,
  },
  "hosts-roundtrip": {
    issue: "hosts",
    title: "action round trip manager -> host -> driver -> outcome: direct, in-process host, host over a WebSocket",
    run: hostsRoundtrip,
  },
  "hosts-scale": {
    issue: "hosts",
    title: "hosts x guests the manager tracks: 10 / 50 / 100 hosts over WebSockets, 1,000 / 10,000 guests",
    run: hostsScale,
  },
  failover: {
    issue: "HA on etcd",
    title: "leader gone -> standby's first fenced write, 3 etcd members: SIGKILL at TTL 2 s / 5 s, clean resign",
    run: failover,
  },
  "state-writes": {
    issue: "HA on etcd",
    title:
      "state write cost per generation (reserve + N records + flush), N = 1 / 10 / 100: SQLite, etcd 1 and 3 members",
    run: stateWrites,
  },
  network: {
    issue: "12, OpenFlow on OVS",
    title: "decision -> flows installed on the switch, 10 / 100 backends; one bucket of a 1,000-backend group changed",
    run: network,
  },
};
