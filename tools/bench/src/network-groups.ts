/**
 * Part of the `network` benchmark (issue 12): a select group of 1,000 backends
 * changed by one bucket at a time (one removed, then added back), through the
 * adapter (`openOvs(...).apply`: dump-flows + dump-groups (and parse-flows of new lines), one
 * bundle), vs. the same with 10 backends. 1,000 guests would be 1,000
 * namespaces: the adapter is given the state the network driver derives for
 * them instead (flows.ts's shape: a deliver flow per guest, the service's flow
 * to its group, buckets `ct(commit,table=2,zone=7,nat(dst=IP:PORT))` with ids
 * that stay the backend's), on a bridge with no ports behind the flows.
 */

import { performance } from "node:perf_hooks";
import { type Flow, type NetworkState, type Ovs, type Owner, openOvs, type SelectGroup } from "@froctal/network-ovs";
import type { PrivateOvs } from "@froctal/ovs-switch";
import type { Report } from "./figures.js";
import { percentile } from "./measure.js";

const SIZES = [10, 1_000] as const;
const CHANGES = 20;
const WARMUP_CHANGES = 2;
const OWNER: Owner = { cookie: 0xbe7c4n, groupIds: { min: 1000, max: 1999 } };
const GROUP = 1000;
const VIP = "10.80.255.250";
const PORT = 8080;
const SERVICE_MAC = "02:ff:00:00:00:01";
const ZONE = 7;

export async function bigGroup(report: Report, fixture: PrivateOvs): Promise<void> {
  report.say(
    `a select group changed through openOvs(...).apply, one bucket removed or added back per change, ` +
      `${CHANGES} changes after ${WARMUP_CHANGES} warm-up; each guest's deliver flow on the bridge too`,
  );
  const ovs = openOvs(fixture.options);
  for (const size of SIZES) {
    const bridge = fixture.bridgeName();
    await ovs.addBridge(bridge);
    try {
      const backends = Array.from({ length: size }, (_, i) => i + 1);
      const t0 = performance.now();
      await ovs.apply(bridge, OWNER, state(backends, backends));
      const first = performance.now() - t0;

      const took: number[] = [];
      const stages: number[] = [];
      const commits: number[] = [];
      const removed = new Set<number>();
      for (let change = 0; change < WARMUP_CHANGES + CHANGES; change++) {
        // Backend k out, then back in: the group goes from `size` buckets to one fewer and back.
        const k = backends[Math.floor(change / 2) % size]!;
        if (removed.has(k)) removed.delete(k);
        else removed.add(k);
        const desired = state(
          backends,
          backends.filter((b) => !removed.has(b)),
        );
        const t = performance.now();
        const staged = await ovs.stage(bridge, OWNER, desired);
        const s = performance.now();
        await ovs.commit(staged);
        const c = performance.now();
        // One bucket changed must be one line: `group modify` of that group, nothing else.
        if (staged.lines.length !== 1 || staged.groups.replaced !== 1) {
          throw new Error(`a one-bucket change planned ${staged.lines.length} lines: ${staged.lines[0]?.slice(0, 80)}`);
        }
        if (change >= WARMUP_CHANGES) {
          took.push(c - t);
          stages.push(s - t);
          commits.push(c - s);
        }
      }
      await checkBuckets(ovs, bridge, size - removed.size);
      const sorted = [...took].sort((a, b) => a - b);
      const p50 = (values: number[]) =>
        percentile(
          [...values].sort((a, b) => a - b),
          50,
        ).toFixed(1);
      const label = `group of ${size.toLocaleString("en-US")} backends`;
      report.add(`${label}: one bucket changed (apply), p50`, percentile(sorted, 50), "ms", {
        note: `p50s: stage (dump-flows + dump-groups; parse-flows only of lines not spelled before) ${p50(stages)} ms, commit (one bundle: group modify) ${p50(commits)} ms`,
      });
      report.add(`${label}: one bucket changed (apply), max`, sorted.at(-1) ?? Number.NaN, "ms");
      report.add(`${label}: first apply onto an empty bridge`, first, "ms", {
        note: `${state(backends, backends).flows.length} flows, ${size} buckets`,
      });
    } finally {
      await ovs.deleteBridge(bridge);
    }
  }
}

const ip = (backend: number) => `10.80.${Math.floor(backend / 256)}.${backend % 256}`;
const mac = (backend: number) =>
  `02:00:0a:50:${Math.floor(backend / 256)
    .toString(16)
    .padStart(2, "0")}:${(backend % 256).toString(16).padStart(2, "0")}`;

/**
 * What the network driver derives for `guests` on the bridge and one service
 * whose backends are `buckets` (flows.ts): its base flows, a deliver flow per
 * guest, the service's flow to its group and the group. Bucket id = the
 * backend's number, as the driver's is its host number in the subnet.
 */
function state(guests: readonly number[], buckets: readonly number[]): NetworkState {
  const flows: Flow[] = [
    { table: 0, priority: 100, match: "tcp", actions: `ct(table=1,zone=${ZONE},nat)` },
    { table: 0, priority: 1, match: "", actions: "goto_table:1" },
    { table: 1, priority: 0, match: "", actions: "goto_table:2" },
    { table: 2, priority: 0, match: "", actions: "NORMAL" },
    { table: 2, priority: 39_999, match: `dl_dst=${SERVICE_MAC}`, actions: "drop" },
    {
      table: 1,
      priority: 100,
      match: `ct_state=+new+trk,tcp,nw_dst=${VIP},tp_dst=${PORT}`,
      actions: `group:${GROUP}`,
    },
    ...guests.map((g) => ({
      table: 2,
      priority: 40_000,
      match: `ip,dl_dst=${SERVICE_MAC},nw_dst=${ip(g)}`,
      actions: `mod_dl_dst:${mac(g)},output:${g + 1}`,
    })),
  ];
  const group: SelectGroup = {
    id: GROUP,
    buckets: buckets.map((b) => ({ id: b, actions: `ct(commit,table=2,zone=${ZONE},nat(dst=${ip(b)}:${PORT}))` })),
  };
  return { flows, groups: [group] };
}

async function checkBuckets(ovs: Ovs, bridge: string, expected: number): Promise<void> {
  const groups = await ovs.dumpGroups(bridge);
  const buckets = groups.find((g) => g.id === GROUP)?.buckets.length ?? 0;
  if (buckets !== expected) throw new Error(`group ${GROUP} has ${buckets} buckets on the switch, not ${expected}`);
}
