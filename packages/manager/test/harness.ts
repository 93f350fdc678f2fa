/**
 * The manager under test, on a virtual clock with the in-memory driver and
 * fake agents: the shared harness of the manager's behaviour tests (each test
 * file beside the part it exercises). Not compiled into dist (outside src/).
 */
import { VirtualClock } from "@froctal/primitives";
import { elapse, FakeAgent, MemoryDriver, type MemoryDriverOptions, ready, settle } from "@froctal/testkit";
import { expect } from "vitest";
import type { JournalEntry } from "../src/journal.js";
import { Manager, type ManagerOptions } from "../src/manager.js";
import { defineFleet, type FleetSpec, type ServiceView } from "../src/policy/fleet.js";

export function harness(
  fleet: FleetSpec,
  options: Partial<ManagerOptions> = {},
  driverOptions: Partial<MemoryDriverOptions> = {},
) {
  const clock = new VirtualClock();
  const driver = new MemoryDriver({ clock, ...driverOptions });
  const journal: JournalEntry[] = [];
  let tokens = 0;
  const manager = new Manager({
    fleet,
    driver,
    clock,
    managerUrl: "ws://manager.test/agent",
    token: () => `tok-${++tokens}`,
    onJournal: (e) => journal.push(e),
    // The same input trace must give the same frames, nonces included.
    nonceTag: "test",
    ...options,
  });
  const agents = new Map<string, FakeAgent>();
  /** The agent of a launched instance, holding the token the driver was given. */
  const agent = (id: string): FakeAgent => {
    let a = agents.get(id);
    if (a === undefined) {
      const launch = driver.callsOf("start").find((c) => c.instanceId === id);
      if (launch === undefined) throw new Error(`${id} was never started`);
      a = new FakeAgent(manager.ingest, id, launch.spec.env.FROCTAL_TOKEN!);
      agents.set(id, a);
    }
    return a;
  };
  /** What a guest does once launched: hello, then READY with its first samples. */
  const boot = (id: string, metrics: Record<string, number> = {}): FakeAgent => {
    const a = agent(id);
    expect(a.connect()).toMatchObject({ ok: true });
    a.send({ events: [ready()], metrics });
    return a;
  };
  const phases = () => Object.fromEntries([...manager.store.instances.values()].map((i) => [i.id, i.phase]));
  const started = () => driver.callsOf("start").map((c) => c.instanceId);
  const stopped = () => driver.callsOf("stop").map((c) => c.instanceId);
  const target = (service: string) => manager.store.service(service).target;
  return {
    clock,
    driver,
    manager,
    journal,
    agent,
    boot,
    phases,
    started,
    stopped,
    target,
    settle: () => settle(clock),
    elapse: (ms: number) => elapse(clock, ms),
  };
}

export type Harness = ReturnType<typeof harness>;

/** Actions are keyed: no instance is ever started twice, nor stopped twice unless a stop failed, nor drained twice. */
export function expectNoRepeats(h: Harness): void {
  const unique = (xs: string[]) => expect(xs).toEqual([...new Set(xs)]);
  unique(h.started());
  unique(h.stopped());
  unique(h.journal.filter((e) => e.kind === "drain").map((e) => e.instance!));
}

/** One in-flight request is 1 unit of load; 10 units per replica. */
export const webFleet = defineFleet({
  name: "shop",
  services: {
    web: {
      image: "web.js",
      args: ["--port", "0"],
      env: { MODE: "test" },
      loadMetric: "inflight",
      min: 1,
      max: 5,
      replicas: (s: ServiceView) => {
        const load = s.metric("inflight").sum;
        return { replicas: Math.ceil(load / 10), why: `${load} in flight` };
      },
      scaleDown: { stabilizationMs: 5_000 },
      drainTimeoutMs: 10_000,
      stopGraceMs: 2_000,
    },
  },
});
