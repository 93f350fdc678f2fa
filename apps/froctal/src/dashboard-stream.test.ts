/**
 * The dashboard's snapshot as pure logic: a fleet of thousands becomes counts
 * by phase, a summed load and the first MAX_ROWS rows; a rollout in flight its
 * exact counts and capped names; the journal its last JOURNAL_TAIL entries,
 * numbered as GET /events numbers them; the hosts as the page shows them and
 * each row's host, null where no host has it.
 */
import type { InstanceStatus, JournalEntry, ManagerStatus } from "@froctal/manager";
import { expect, test } from "vitest";
import { type HostsView, JOURNAL_TAIL, MAX_ROWS, projectDashboard } from "./dashboard-stream.js";

function instance(n: number, phase: string, load: number | null): InstanceStatus {
  const devices = n === 1 ? [{ id: "eth0", kind: "nic", properties: {} }] : [];
  return {
    id: `web-${n}`,
    phase,
    generation: 3,
    connected: phase !== "starting",
    load,
    devices,
    endpoint: null,
    facts: {},
  };
}

const instances = [
  ...Array.from({ length: 2_000 }, (_, i) => instance(i + 1, "ready", 1.5)),
  ...Array.from({ length: 15 }, (_, i) => instance(2_001 + i, "starting", null)),
  ...Array.from({ length: 5 }, (_, i) => instance(2_016 + i, "draining", 2)),
];
const names = instances.map((i) => i.id);

const status: ManagerStatus = {
  fleet: "big",
  generation: 3,
  services: [
    {
      name: "web",
      target: 2_015,
      recommended: 2_015,
      why: "80600 requests/s at 40 per instance",
      failure: null,
      lastExit: null,
      nextAttemptAt: null,
      instances,
    },
  ],
  rollouts: [
    {
      generation: 3,
      result: "committed",
      instances: ["web-1", "web-2"],
      results: [
        { instance: "web-1", result: "committed" },
        { instance: "web-2", result: "unconfirmed", reason: "its session ended" },
      ],
      at: 1_000,
    },
  ],
  rollout: {
    generation: 4,
    phase: "preparing",
    instances: names.slice(0, 2_000),
    prepared: names.slice(0, 1_234),
    committed: [],
    failed: [{ instance: "web-7", running: 3, reason: "no space" }],
  },
  network: null,
  journal: [],
};

const entry = (n: number): JournalEntry => ({ at: n, kind: "scale", service: "web", message: `decision ${n}` });
// 100 written, the last 40 kept (61..100), as the manager's bounded journal keeps them.
const journal = { stats: { written: 100 }, recent: () => Array.from({ length: 40 }, (_, i) => entry(61 + i)) };

// Three hosts, one in each status; web-1 and web-2 placed, the rest on none (not placed, or their host lost).
const summary = { memoryBytes: 8 * 2 ** 30, features: ["kvm"], drivers: ["process"] };
const hosts: HostsView = {
  hosts: () => [
    { id: "local", status: "up", cpus: 8, guests: 1, ...summary },
    { id: "rack-2", status: "silent", cpus: 32, guests: 1, ...summary },
    { id: "rack-3", status: "lost", cpus: 4, guests: 0, ...summary },
  ],
  hostOf: (id) =>
    new Map([
      ["web-1", "local"],
      ["web-2", "rack-2"],
    ]).get(id),
};

test("a service of thousands: every instance counted by phase, its load summed, the first rows only", () => {
  const web = projectDashboard(status, journal, hosts).services[0]!;
  expect({ ...web, instances: web.instances.length }).toEqual({
    name: "web",
    target: 2_015,
    recommended: 2_015,
    why: "80600 requests/s at 40 per instance",
    failure: null,
    ready: 2_000,
    total: 2_020,
    phases: { ready: 2_000, starting: 15, draining: 5 },
    load: 2_000 * 1.5 + 5 * 2,
    instances: MAX_ROWS,
    hidden: 2_020 - MAX_ROWS,
  });
  expect(web.instances.slice(0, 3)).toEqual([
    { id: "web-1", phase: "ready", generation: 3, connected: true, load: 1.5, devices: 1, host: "local" },
    { id: "web-2", phase: "ready", generation: 3, connected: true, load: 1.5, devices: 0, host: "rack-2" },
    { id: "web-3", phase: "ready", generation: 3, connected: true, load: 1.5, devices: 0, host: null },
  ]);
});

test("every host with its status, cpus and guests; each row's host, null where none has it", () => {
  const s = projectDashboard(status, journal, hosts);
  expect(s.hosts).toEqual([
    { id: "local", status: "up", cpus: 8, guests: 1 },
    { id: "rack-2", status: "silent", cpus: 32, guests: 1 },
    { id: "rack-3", status: "lost", cpus: 4, guests: 0 },
  ]);
  expect(s.services[0]!.instances.map((i) => i.host)).toEqual([
    "local",
    "rack-2",
    ...Array.from({ length: MAX_ROWS - 2 }, () => null),
  ]);
  // A manager without hosts: no hosts, and no row claims one.
  const bare = projectDashboard(status, journal, undefined);
  expect(bare.hosts).toEqual([]);
  expect(bare.services[0]!.instances.map((i) => i.host)).toEqual(Array.from({ length: MAX_ROWS }, () => null));
});

test("the network driver and the generation it runs, or null without one", () => {
  expect(projectDashboard(status, journal, hosts).network).toBeNull();
  const network = { driver: "openvswitch bridge froctal0", generation: 3 };
  expect(projectDashboard({ ...status, network }, journal, hosts).network).toEqual(network);
});

test("the rollout in flight: exact counts, capped names; the last one as the journal words it", () => {
  const s = projectDashboard(status, journal, hosts);
  expect(s.rollout).toEqual({
    generation: 4,
    phase: "preparing",
    instances: 2_000,
    prepared: names.slice(0, MAX_ROWS),
    preparedCount: 1_234,
    committed: [],
    committedCount: 0,
    failed: ["web-7: no space"],
  });
  expect(s.lastRollout).toBe("generation 3 committed on web-1; web-2 has not confirmed it (its session ended)");
  expect(projectDashboard({ ...status, rollout: null, rollouts: [] }, journal, hosts)).toMatchObject({
    rollout: null,
    lastRollout: null,
  });
});

test("the journal's last entries, numbered from the count ever written", () => {
  const s = projectDashboard(status, journal, hosts);
  expect(s.written).toBe(100);
  expect(s.journal.map((e) => [e.seq, e.message])).toEqual(
    Array.from({ length: JOURNAL_TAIL }, (_, i) => [
      100 - JOURNAL_TAIL + 1 + i,
      `decision ${100 - JOURNAL_TAIL + 1 + i}`,
    ]),
  );
});
