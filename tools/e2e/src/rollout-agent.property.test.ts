/**
 * Property tests of configuration rollout against the agent's REAL
 * configuration machine (@froctal/agent/core's ConfigMachine, the one every
 * guest runs), not a model of it. The fleet is shaped like the routers
 * example: router-1's network is routed by every other router, router-2's MTU
 * fact sets the MTU of routers 1 and 3, so one fact changes several
 * instances' configuration at once.
 *
 * A trace mixes fact changes; guests handling the commands they received
 * (one guest, or all in a round) and accepting, refusing a prepare (a nack),
 * or failing a commit (the guest's commit handler throws: it keeps what it
 * ran and answers NACKED); disconnects
 * (frames in transit lost or not); reconnects that report the generation the
 * machine runs; silences past the rollout timeout; and manager restarts.
 * Every frame a guest handles goes through the real codec (encode, decode,
 * validate) and configCommandOf, as in the agent's session.
 *
 *   (a) all or nothing: no guest applies a generation unless every instance
 *       it was offered to prepared it and none refused it, and none applies
 *       an aborted generation; what a guest applies is what it was offered;
 *       a failed commit leaves the guest running what it ran;
 *   (b) the manager never believes a guest runs a configuration it did not
 *       apply (a failed commit is not recorded as applied), nor forgets a
 *       generation the guest told it it runs; generations only grow;
 *   (c) once the network heals and guests accept, every guest runs its
 *       desired configuration, the manager knows it, and nothing more is pushed.
 */

import { type Ack, ConfigMachine, configCommandOf } from "@froctal/agent/core";
import { canonicalJson, defineFleet, type JournalEntry, Manager } from "@froctal/manager";
import { VirtualClock } from "@froctal/primitives";
import { ConfigAckStatus, decodeManagerFrame, encodeManagerFrame, type ManagerFrame } from "@froctal/protocol";
import { app, device, FakeAgent, type FakeSession, MemoryDriver, MemoryState, ready, settle } from "@froctal/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";

const ROUTERS = ["router-1", "router-2", "router-3", "router-4"] as const;
const PREFIXES = ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"] as const;
const MTUS = [1500, 9000] as const;
const TIMEOUT_MS = 5_000;

/** What a router should run, given router-1's network and router-2's MTU as the manager knows them. */
function desired(id: string, prefix: string | undefined, mtu: number | undefined): object {
  const routes = id === "router-1" || prefix === undefined ? [] : [{ prefix, via: "router-1" }];
  return id === "router-1" || id === "router-3" ? { routes, mtu: mtu ?? 1500, self: id } : { routes, self: id };
}

const fleet = defineFleet({
  name: "net",
  services: {
    router: {
      image: "router.js",
      replicas: ROUTERS.length,
      config: (f, self) =>
        desired(
          self.id,
          f.instance("router-1")?.devices.get("eth1")?.properties.address,
          f.instance("router-2")?.fact<number>("mtu"),
        ),
    },
  },
});

/** How a guest answers the commands it handles in one step. */
type Outcome = "accept" | "refuse" | "fail";

type Step =
  | { readonly kind: "prefix"; readonly value: string }
  | { readonly kind: "mtu"; readonly value: number }
  | { readonly kind: "answer"; readonly who: number; readonly frames: number; readonly outcome: Outcome }
  | { readonly kind: "round"; readonly outcome: Outcome }
  | { readonly kind: "disconnect"; readonly who: number; readonly lose: boolean }
  | { readonly kind: "reconnect"; readonly who: number }
  | { readonly kind: "elapse"; readonly ms: number }
  | { readonly kind: "restart"; readonly lose: boolean };

const who = fc.integer({ min: 0, max: ROUTERS.length - 1 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("prefix" as const), value: fc.constantFrom(...PREFIXES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mtu" as const), value: fc.constantFrom(...MTUS) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("answer" as const),
      who,
      frames: fc.integer({ min: 1, max: 3 }),
      outcome: fc.constantFrom<Outcome>("accept", "accept", "refuse", "fail"),
    }),
  },
  {
    weight: 3,
    // Everyone handles everything; now and then every commit handled in the round fails.
    arbitrary: fc.record({
      kind: fc.constant("round" as const),
      outcome: fc.constantFrom<Outcome>("accept", "accept", "fail"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("disconnect" as const), who, lose: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("reconnect" as const), who }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("elapse" as const),
      ms: fc.constantFrom(100, 1_000, 2_500, 5_000, 30_000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), lose: fc.boolean() }) },
);

interface Applied {
  readonly generation: number;
  /** The configuration as canonical JSON, comparable with what the manager offered. */
  readonly json: string;
}

/** A guest: the agent's own configuration machine, with handlers that accept, refuse or fail as told. */
class Guest {
  readonly machine: ConfigMachine;
  running: Applied = { generation: 0, json: "" };
  /** Every configuration committed, in order. */
  readonly applied: Applied[] = [];
  readonly abortsReceived = new Set<number>();
  /** Generations this guest answered PREPARED, and NACKED at prepare. */
  readonly preparedGenerations = new Set<number>();
  readonly refusedGenerations = new Set<number>();
  /** Commits whose handler threw. */
  failedCommits = 0;
  /** Its agent towards the current manager (one per manager, so event numbering carries across reconnects). */
  agent: FakeAgent | undefined;
  /** Frames of the current session already taken into the inbox. */
  taken = 0;
  /** Frames received and not yet handled: they survive a disconnect unless lost in transit. */
  inbox: ManagerFrame[] = [];
  /** The highest generation it told the current manager it runs (in its hello, or in an answer). */
  told = 0;
  private outcome: Outcome = "accept";
  private answers: Ack[] = [];

  constructor(
    readonly id: string,
    readonly token: string,
  ) {
    this.machine = new ConfigMachine({
      runningGeneration: 0,
      send: (ack) => this.answers.push(ack),
      report: () => {}, // a failed commit is also reported; the answer carries it to the manager
      handler: {
        prepare: () => (this.outcome === "refuse" ? "the guest refuses" : undefined),
        commit: (config, generation) => {
          if (this.outcome === "fail") {
            this.failedCommits++;
            throw new Error("the swap failed");
          }
          this.running = { generation, json: canonicalJson(config) };
          this.applied.push(this.running);
        },
      },
    });
  }

  /** Handles one frame as the agent's session does (real codec, configCommandOf); returns the answers. */
  async handle(frame: ManagerFrame, outcome: Outcome): Promise<readonly Ack[]> {
    const checked = decodeManagerFrame(encodeManagerFrame(frame));
    if (checked.frame === "abort") this.abortsReceived.add(checked.abort.generation);
    const command = configCommandOf(checked);
    if (command === undefined) return [];
    this.outcome = outcome;
    this.answers = [];
    await this.machine.handle(command);
    for (const a of this.answers) {
      if (a.status === ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED) this.preparedGenerations.add(a.generation);
      if (a.status === ConfigAckStatus.CONFIG_ACK_STATUS_NACKED && command.kind === "prepare") {
        this.refusedGenerations.add(a.generation);
      }
    }
    return this.answers;
  }
}

/** The guests, the manager in front of them, and everything observed so far. */
class World {
  readonly clock = new VirtualClock();
  readonly driver = new MemoryDriver({ clock: this.clock });
  readonly state = new MemoryState();
  readonly facts = { prefix: PREFIXES[0] as string, mtu: MTUS[0] as number };
  readonly violations: string[] = [];
  manager!: Manager;
  guests: Guest[] = [];
  /** Outcomes in the order they were journaled, across every manager. */
  private readonly outcomes: { readonly generation: number; readonly result: string }[] = [];
  /** The prepares seen for each generation: which instance was offered what. */
  private readonly offered = new Map<number, Map<string, string>>();
  private highest = 0;
  private readonly dead: { readonly session: FakeSession; readonly frames: number }[] = [];
  private tokens = 0;

  static async create(): Promise<World> {
    const w = new World();
    await w.startManager();
    const starts = w.driver.callsOf("start");
    w.guests = ROUTERS.map((id) => new Guest(id, starts.find((c) => c.instanceId === id)!.spec.env.FROCTAL_TOKEN!));
    for (const g of w.guests) {
      w.connect(g);
      g.agent!.send({ events: [ready()] });
    }
    await w.settle();
    await w.heal(); // traces start from a fleet that runs its first configuration
    return w;
  }

  private async startManager(): Promise<void> {
    this.manager = new Manager({
      fleet,
      driver: this.driver,
      clock: this.clock,
      managerUrl: "ws://manager.test/agent",
      token: () => `tok-${++this.tokens}`,
      state: this.state,
      rolloutTimeoutMs: TIMEOUT_MS,
      onJournal: (e) => this.journaled(e),
    });
    await this.manager.restore();
    this.manager.start();
    await settle(this.clock);
  }

  private journaled(e: JournalEntry): void {
    const m = e.kind === "rollout" ? /^generation (\d+) (committed|aborted) on /.exec(e.message) : null;
    if (m !== null) this.outcomes.push({ generation: Number(m[1]), result: m[2]! });
  }

  /** Says hello with the generation the machine runs, then states the router's facts. */
  connect(g: Guest): void {
    g.agent ??= new FakeAgent(this.manager.ingest, g.id, g.token, `${g.id}-stream`);
    const admission = g.agent.connect({ runningGeneration: g.machine.runningGeneration });
    if (!admission.ok) this.violations.push(`${g.id} was refused: ${admission.reason}`);
    g.taken = 0;
    g.told = g.machine.runningGeneration;
    this.announce(g);
  }

  announce(g: Guest): void {
    if (g.agent?.session === undefined) return;
    if (g.id === "router-1") g.agent.send({ events: [device("eth1", "added", "nic", { address: this.facts.prefix })] });
    if (g.id === "router-2") g.agent.send({ events: [app("mtu", this.facts.mtu)] });
  }

  /** The guest handles up to `n` commands in order; its answers go out if it is connected. */
  async answer(g: Guest, n: number, outcome: Outcome): Promise<void> {
    for (let k = 0; k < n && g.inbox.length > 0; k++) {
      const before = g.running;
      const appliedBefore = g.applied.length;
      const failedBefore = g.failedCommits;
      const answers = await g.handle(g.inbox.shift()!, outcome);
      if (g.applied.length > appliedBefore) this.checkAllPrepared(g, g.running.generation);
      if (g.failedCommits > failedBefore && g.running !== before) {
        this.violations.push(`${g.id} changed what it runs although its commit failed`);
      }
      const session = g.agent?.session;
      if (session === undefined) continue;
      for (const ack of answers) {
        this.manager.ingest.configAck(session, ack);
        g.told = Math.max(g.told, ack.runningGeneration);
      }
    }
  }

  async play(s: Step): Promise<void> {
    switch (s.kind) {
      case "prefix":
        this.facts.prefix = s.value;
        this.announce(this.guests[0]!);
        break;
      case "mtu":
        this.facts.mtu = s.value;
        this.announce(this.guests[1]!);
        break;
      case "answer":
        await this.answer(this.guests[s.who]!, s.frames, s.outcome);
        break;
      case "round":
        for (const g of this.guests) await this.answer(g, g.inbox.length, s.outcome);
        break;
      case "disconnect": {
        const g = this.guests[s.who]!;
        g.agent?.disconnect("link down");
        if (s.lose) g.inbox = [];
        break;
      }
      case "reconnect": {
        const g = this.guests[s.who]!;
        if (g.agent?.session === undefined) this.connect(g);
        break;
      }
      case "elapse":
        this.clock.advance(s.ms);
        break;
      case "restart":
        this.manager.close();
        for (const g of this.guests) {
          const session = g.agent?.session;
          if (session !== undefined) this.dead.push({ session, frames: session.frames.length });
          g.agent = undefined;
          if (s.lose) g.inbox = [];
        }
        await this.startManager();
        break;
      default:
        s satisfies never;
    }
    await this.settle();
  }

  async settle(): Promise<void> {
    await settle(this.clock);
    this.collect();
    this.check();
  }

  private collect(): void {
    const fresh = new Map<number, Map<string, string>>();
    for (const g of this.guests) {
      const session = g.agent?.session;
      if (session === undefined) continue;
      const frames = session.frames.slice(g.taken);
      g.taken = session.frames.length;
      g.inbox.push(...frames);
      for (const f of frames) {
        if (!f.prepare) continue;
        const generation = Number(f.prepare.generation);
        const offers = fresh.get(generation) ?? new Map<string, string>();
        fresh.set(generation, offers);
        if (offers.has(g.id)) this.violations.push(`${g.id} was offered generation ${generation} twice`);
        offers.set(g.id, new TextDecoder().decode(f.prepare.config as Uint8Array));
      }
    }
    for (const [generation, offers] of fresh) {
      if (this.offered.has(generation)) this.violations.push(`generation ${generation} was handed out again`);
      else if (generation <= this.highest)
        this.violations.push(`generation ${generation} handed out after ${this.highest}`);
      this.offered.set(generation, offers);
    }
    for (const generation of [...fresh.keys(), ...this.outcomes.map((o) => o.generation)]) {
      this.highest = Math.max(this.highest, generation);
    }
  }

  /** (a) All or none: a guest applies a generation only if every instance offered it prepared it and none refused. */
  private checkAllPrepared(applier: Guest, generation: number): void {
    for (const id of this.offered.get(generation)?.keys() ?? []) {
      const g = this.guests.find((x) => x.id === id)!;
      if (!g.preparedGenerations.has(generation) || g.refusedGenerations.has(generation)) {
        this.violations.push(`${applier.id} applied generation ${generation} before ${id} had prepared it`);
      }
    }
  }

  private check(): void {
    const aborted = new Set(this.outcomes.filter((o) => o.result === "aborted").map((o) => o.generation));
    for (const g of this.guests) for (const n of g.abortsReceived) aborted.add(n);
    for (const g of this.guests) {
      if (g.machine.runningGeneration !== g.running.generation) {
        this.violations.push(
          `${g.id}'s machine runs ${g.machine.runningGeneration}, its handler ${g.running.generation}`,
        );
      }
      for (const a of g.applied) {
        if (aborted.has(a.generation)) this.violations.push(`${g.id} applied generation ${a.generation}, aborted`);
        if (this.offered.get(a.generation)?.get(g.id) !== a.json) {
          this.violations.push(`${g.id} applied generation ${a.generation} with a configuration never offered`);
        }
      }
      const i = this.manager.store.instance(g.id);
      if (i === undefined) {
        this.violations.push(`${g.id} is no longer in the store`);
        continue;
      }
      if (g.agent?.session !== undefined && i.generation < g.told) {
        this.violations.push(
          `${g.id} told the manager it runs generation ${g.told}; the manager records ${i.generation}`,
        );
      }
      if (i.committedJson === "") continue;
      const did = g.applied.some((a) => a.generation === i.generation && a.json === i.committedJson);
      if (!did || i.generation > g.running.generation) {
        this.violations.push(`the manager believes ${g.id} runs generation ${i.generation}, which it never applied`);
      }
    }
    for (const d of this.dead) {
      if (d.session.frames.length !== d.frames)
        this.violations.push(`a closed manager sent to ${d.session.instanceId}`);
    }
  }

  /** Everyone connects and accepts; time passes until nothing is left to do (bounded). */
  async heal(): Promise<void> {
    for (const g of this.guests) if (g.agent?.session === undefined) this.connect(g);
    await this.settle();
    for (let round = 0; round < 120 && !this.converged(); round++) {
      await this.answerAll();
      if (this.converged()) break;
      this.clock.advance(1_000);
      await this.settle();
    }
  }

  async answerAll(): Promise<void> {
    for (let pass = 0; this.guests.some((g) => g.inbox.length > 0); pass++) {
      if (pass === 20) {
        this.violations.push("the manager keeps sending commands to guests that answer at once");
        return;
      }
      for (const g of this.guests) await this.answer(g, g.inbox.length, "accept");
      await this.settle();
    }
  }

  converged(): boolean {
    return this.guests.every((g) => {
      const i = this.manager.store.instance(g.id);
      return (
        g.inbox.length === 0 &&
        g.running.json === this.expected(g.id) &&
        i?.committedJson === g.running.json &&
        i.generation === g.running.generation
      );
    });
  }

  count(result: "committed" | "aborted"): number {
    return this.outcomes.filter((o) => o.result === result).length;
  }

  expected(id: string): string {
    return canonicalJson(desired(id, this.facts.prefix, this.facts.mtu));
  }

  get offers(): number {
    let n = 0;
    for (const offers of this.offered.values()) n += offers.size;
    return n;
  }
}

async function run(steps: readonly Step[]): Promise<World> {
  const w = await World.create();
  for (const s of steps) {
    await w.play(s);
    expect(w.violations).toEqual([]);
  }
  await w.heal();
  expect(w.violations).toEqual([]);
  // (c) Converged: each guest runs its desired configuration, and the manager knows which generation that is.
  for (const g of w.guests) {
    const i = w.manager.store.instance(g.id)!;
    expect({ id: g.id, running: g.running.json, connected: i.connected }).toEqual({
      id: g.id,
      running: w.expected(g.id),
      connected: true,
    });
    expect([i.generation, i.committedJson]).toEqual([g.machine.runningGeneration, g.running.json]);
  }
  // Quiet from here on: more time brings no more prepares.
  const offers = w.offers;
  for (let k = 0; k < 3; k++) {
    w.clock.advance(30_000);
    await w.settle();
    await w.answerAll();
  }
  expect(w.offers).toBe(offers);
  expect(w.violations).toEqual([]);
  w.manager.close();
  return w;
}

describe("Rollout properties against the agent's own configuration machine", () => {
  it("the fleet converges on its first configuration when nothing goes wrong", async () => {
    const w = await run([]);
    expect(w.guests.map((g) => g.applied.length)).toEqual([1, 1, 1, 1]);
    expect(w.offers).toBe(4);
  });

  it("a commit that fails leaves the guest on its old generation, and the manager re-pushes until it applies", async () => {
    const w = await run([
      { kind: "prefix", value: "10.2.0.0/24" },
      { kind: "round", outcome: "accept" }, // all prepare; commit goes out
      { kind: "answer", who: 1, frames: 1, outcome: "fail" }, // router-2's swap fails
    ]);
    const prefixes = (g: Guest) =>
      g.applied.map((a) => (JSON.parse(a.json) as { routes: { prefix: string }[] }).routes);
    expect(w.guests[1]!.failedCommits).toBe(1);
    expect(prefixes(w.guests[1]!)).toEqual([
      [{ prefix: "10.1.0.0/24", via: "router-1" }],
      [{ prefix: "10.2.0.0/24", via: "router-1" }],
    ]);
    expect(w.guests[1]!.applied.map((a) => a.generation)).toEqual([1, 3]);
  });

  it("never applies what not everyone prepared, never records a failed commit, and converges once healed", async () => {
    const seen = { committed: 0, aborted: 0, failedCommits: 0, refusals: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40, size: "max" }), async (steps) => {
        const w = await run(steps);
        seen.committed += w.count("committed");
        seen.aborted += w.count("aborted");
        for (const g of w.guests) {
          seen.failedCommits += g.failedCommits;
          seen.refusals += g.refusedGenerations.size;
        }
      }),
      { numRuns: 150 },
    );
    // The traces reach what the properties are about.
    for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  });
});
