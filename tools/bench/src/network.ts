/**
 * Benchmark (issue 12, OpenFlow on Open vSwitch): how long a decision takes to
 * reach the switch, and what a big select group costs to change.
 *
 *   decision -> flows   A real Manager (systemClock, tickMs 2, as `froctal up`
 *                       runs it) with the real OVS network driver
 *                       (openOvsNetwork) on a private Open vSwitch
 *                       (@froctal/ovs-switch); its instances' guests are joined
 *                       to the network (a namespace and a veth each, no
 *                       process); the fleet's network policy serves the ready
 *                       instances whose fact "in" is true at a VIP. Each trial
 *                       one instance sends "in" flipped into the manager's
 *                       Ingest (timestamp), and the trial ends when the
 *                       network driver's commit resolves: the bundle is applied
 *                       on the switch. 10 and 100 backends.
 *                       Baselines, same bridge, same run: one `ovs-ofctl
 *                       dump-flows`, and the driver's own prepare + commit of
 *                       the same changes called directly (what the core adds
 *                       is the difference).
 *   big group           network-groups.ts: one bucket of a 1,000-bucket select
 *                       group changed through the adapter, vs. 10 buckets.
 */

import { randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { defineFleet, type FleetSpec, Manager, type NetworkDriver, type NetworkSpec } from "@froctal/manager";
import { type OvsNetwork, openOvsNetwork } from "@froctal/network-ovs";
import { type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { systemClock } from "@froctal/primitives";
import { app, CountingDriver, FakeAgent, ready } from "@froctal/testkit";
import type { Report } from "./figures.js";
import { percentile, sleep, waitFor } from "./measure.js";
import { bigGroup } from "./network-groups.js";

const SIZES = [10, 100] as const;
const TRIALS = 100;
const WARMUP_TRIALS = 5;
/** As `froctal up` runs the manager. */
const TICK_MS = 2;
const TARGET_P99_MS = 20;
const DUMPS = 30;
const SUBNET = "10.77.0.0/24";
const POOL = { first: "10.77.0.10", last: "10.77.0.200" };
const VIP = "10.77.0.250";
const PORT = 8080;

export async function network(report: Report): Promise<void> {
  const fixture = await startPrivateOvs();
  try {
    report.say(
      `a private Open vSwitch (ovsdb-server + ovs-vswitchd, netdev bridges); Manager on the real clock, tickMs ${TICK_MS}; ` +
        `each guest a network namespace with a veth on the bridge; ${TRIALS} trials per size after ${WARMUP_TRIALS} warm-up, ` +
        `each: one instance's fact "in" flipped -> network driver's commit resolved; the driver's converge loop at its default 1 s`,
    );
    for (const size of SIZES) await decisionToFlows(report, fixture, size);
    await bigGroup(report, fixture);
  } finally {
    await fixture.stop();
  }
}

/** The fleet: `size` web instances; the network serves those ready whose fact "in" is true. */
function fleet(size: number): FleetSpec {
  return defineFleet({
    name: "bench",
    services: { web: { image: "bench-guest", min: size, max: size, replicas: size, startTimeoutMs: 600_000 } },
    network: (view) => ({
      services: {
        web: {
          vip: VIP,
          port: PORT,
          backends: view
            .service("web")
            .ready.filter((i) => i.fact<boolean>("in") === true)
            .map((i) => i.id),
        },
      },
    }),
  });
}

/** The times of one generation on the network driver, performance.now() ms. */
interface Marks {
  prepareAt?: number;
  preparedAt?: number;
  commitAt?: number;
  committedAt?: number;
  backends?: number;
}

/** The network driver with a timestamp at each step; `committed` hears every commit that resolved. */
function timed(inner: NetworkDriver, committed: (generation: number, marks: Marks) => void) {
  const marks = new Map<number, Marks>();
  let aborts = 0;
  const driver: NetworkDriver = {
    description: inner.description,
    async prepare(generation, desired) {
      const m: Marks = { prepareAt: performance.now(), backends: desired.services?.web?.backends.length ?? 0 };
      marks.set(generation, m);
      await inner.prepare(generation, desired);
      m.preparedAt = performance.now();
    },
    async commit(generation) {
      const m = marks.get(generation) ?? {};
      m.commitAt = performance.now();
      await inner.commit(generation);
      m.committedAt = performance.now();
      marks.delete(generation);
      committed(generation, m);
    },
    abort(generation) {
      aborts++;
      marks.delete(generation);
      inner.abort(generation);
    },
  };
  return { driver, aborts: () => aborts };
}

interface Spread {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1) ?? Number.NaN };
}

async function decisionToFlows(report: Report, fixture: PrivateOvs, size: number): Promise<void> {
  const bridge = fixture.bridgeName();
  const errors: string[] = [];
  const net: OvsNetwork = await openOvsNetwork({
    ...fixture.options,
    bridge,
    subnet: SUBNET,
    pool: POOL,
    scope: randomBytes(6).toString("hex"),
    onError: (error) => errors.push(error.sentence),
  });
  let manager: Manager | undefined;
  const label = `${size} backends`;
  try {
    const plugStart = performance.now();
    const ids = Array.from({ length: size }, (_, i) => `web-${i + 1}`);
    // Before the manager starts them: a backend the policy names must be on the network already.
    for (const instanceId of ids) await net.guests.join({ instanceId });
    const plugMs = (performance.now() - plugStart) / size;

    let last: { generation: number; marks: Marks } | undefined;
    const { driver: network, aborts } = timed(net.driver, (generation, marks) => {
      last = { generation, marks };
    });
    const tokens = new Map<string, string>();
    const driver = new CountingDriver((spec) => tokens.set(spec.instanceId, spec.env.FROCTAL_TOKEN ?? ""));
    manager = new Manager({
      fleet: fleet(size),
      driver,
      network,
      clock: systemClock,
      managerUrl: "ws://127.0.0.1:9/agent",
      tickMs: TICK_MS,
    });
    const m = manager;
    m.start();
    await waitFor(() => tokens.size === size, 20_000, `${size} instances to start`);
    const unexpected = [...tokens.keys()].filter((id) => !ids.includes(id));
    if (unexpected.length > 0) throw new Error(`the manager started ${unexpected.join(", ")}, not web-1..web-${size}`);
    const agents = ids.map((id) => new FakeAgent(m.ingest, id, tokens.get(id) ?? ""));
    for (const agent of agents) {
      const admission = agent.connect();
      if (!admission.ok) throw new Error(`${agent.instanceId} was not admitted: ${admission.reason}`);
      agent.send({ events: [ready(), app("in", true)] });
    }
    await waitFor(() => last?.marks.backends === size, 20_000, `all ${size} backends committed on the switch`);
    await settled(m, last!.generation);

    const converges0 = net.stats.converges;
    const totals: number[] = [];
    const toPrepare: number[] = [];
    const prepares: number[] = [];
    const between: number[] = [];
    const commits: number[] = [];
    const state = agents.map(() => true);
    for (let trial = 0; trial < WARMUP_TRIALS + TRIALS; trial++) {
      // Off the tick grid: a change lands anywhere within a tick window.
      await sleep(1 + Math.floor(Math.random() * 4));
      // Each instance out, then back in: the group goes from `size` buckets to one fewer and back.
      const index = Math.floor(trial / 2) % size;
      state[index] = !state[index];
      const expected = state.filter(Boolean).length;
      const before = last?.generation ?? 0;
      const t = performance.now();
      agents[index]!.send({ events: [app("in", state[index])] });
      await waitFor(() => (last?.generation ?? 0) > before, 10_000, `trial ${trial}'s commit`);
      const done = last!;
      if (done.marks.backends !== expected) {
        throw new Error(`trial ${trial} committed ${done.marks.backends} backends, not ${expected}`);
      }
      const { prepareAt = t, preparedAt = t, commitAt = t, committedAt = t } = done.marks;
      if (trial >= WARMUP_TRIALS) {
        totals.push(committedAt - t);
        toPrepare.push(prepareAt - t);
        prepares.push(preparedAt - prepareAt);
        between.push(commitAt - preparedAt);
        commits.push(committedAt - commitAt);
      }
      await settled(m, done.generation);
    }
    const converges = net.stats.converges - converges0;
    await checkGroup(fixture, bridge, state.filter(Boolean).length);
    m.close();
    manager = undefined;

    const total = spread(totals);
    const core = spread(toPrepare.map((ms, i) => ms + between[i]!));
    const p50 = (values: number[]) => spread(values).p50.toFixed(1);
    report.add(`${label}: decision -> flows installed, p50`, total.p50, "ms", {
      note:
        `p50s: Ingest -> prepare called ${p50(toPrepare)} ms, prepare (stage: dump-flows, the groups as last written, parse-flows of new lines) ` +
        `${p50(prepares)} ms, prepared -> commit called ${p50(between)} ms, commit (one bundle) ${p50(commits)} ms`,
    });
    report.add(`${label}: decision -> flows installed, p99`, total.p99, "ms", {
      target: { cmp: "<=", value: TARGET_P99_MS },
      note: `max ${total.max.toFixed(1)} ms; ${converges} converge round(s) of the driver during the trials`,
    });

    // Baselines on the same bridge, same guests: the driver called directly, then one ovs-ofctl call.
    const direct = await directly(net, size, state);
    report.add(`${label}: driver prepare + commit called directly, p50`, direct.p50, "ms", {
      note: `p99 ${direct.p99.toFixed(1)} ms; the same changes, no manager`,
    });
    report.add(
      `${label}: the core's own part (Ingest -> prepare called + prepared -> commit called), p50`,
      core.p50,
      "ms",
      {
        note: `p99 ${core.p99.toFixed(1)} ms; the rest is the driver's prepare and commit`,
      },
    );
    const dumps = spread(await dumpFlows(fixture, bridge));
    report.add(`${label}: one ovs-ofctl dump-flows, p50`, dumps.p50, "ms", {
      note: `p99 ${dumps.p99.toFixed(1)} ms; ${DUMPS} calls`,
    });
    report.say(`${label}: joining a guest to the bridge took ${plugMs.toFixed(1)} ms on average (setup, not timed)`);
    if (aborts() > 0) report.say(`warning: ${aborts()} generation(s) aborted on the network`);
    if (errors.length > 0) report.say(`warning: the converge loop failed ${errors.length} time(s): ${errors[0]}`);
  } finally {
    manager?.close();
    net.close();
    for (const id of [...net.guests.list().keys()]) await net.guests.leave(id);
  }
}

/** Waits for the manager to record the generation's outcome, so the next trial starts on an idle rollout. */
async function settled(manager: Manager, generation: number): Promise<void> {
  await waitFor(
    () => (manager.status().rollouts.at(-1)?.generation ?? 0) >= generation,
    10_000,
    `generation ${generation}'s outcome`,
  );
}

/** The trials' changes again, through the driver alone: prepare + commit, one generation each. */
async function directly(net: OvsNetwork, size: number, state: boolean[]): Promise<Spread> {
  const ids = Array.from({ length: size }, (_, i) => `web-${i + 1}`);
  const took: number[] = [];
  let generation = 1_000_000;
  for (let trial = 0; trial < WARMUP_TRIALS + TRIALS; trial++) {
    const index = Math.floor(trial / 2) % size;
    state[index] = !state[index];
    const spec: NetworkSpec = {
      services: { web: { vip: VIP, port: PORT, backends: ids.filter((_, i) => state[i]) } },
    };
    generation++;
    const t = performance.now();
    await net.driver.prepare(generation, spec);
    await net.driver.commit(generation);
    if (trial >= WARMUP_TRIALS) took.push(performance.now() - t);
    await sleep(1 + Math.floor(Math.random() * 4));
  }
  return spread(took);
}

async function dumpFlows(fixture: PrivateOvs, bridge: string): Promise<number[]> {
  const target = `unix:${fixture.dir}/${bridge}.mgmt`;
  const took: number[] = [];
  for (let i = 0; i < DUMPS + 3; i++) {
    const t = performance.now();
    await fixture.ofctl("--no-stats", "dump-flows", target);
    if (i >= 3) took.push(performance.now() - t);
  }
  return took;
}

/** What the switch holds after the trials: the service's group with one bucket per backend "in". */
async function checkGroup(fixture: PrivateOvs, bridge: string, backends: number): Promise<void> {
  const dump = await fixture.ofctl("dump-groups", `unix:${fixture.dir}/${bridge}.mgmt`);
  const group = dump.split("\n").find((line) => line.includes("type=select"));
  const buckets = (group?.match(/bucket=/g) ?? []).length;
  if (buckets !== backends) throw new Error(`the switch's group has ${buckets} buckets, not ${backends}`);
}
