/**
 * The world of the rollout property tests (rollout-agent.property.test.ts):
 * guests that run the agent's own configuration machine (rollout-agent-guest.ts),
 * the Manager in front of them, and run(), which plays a trace
 * (rollout-agent-trace.ts) and checks the properties after every step.
 */
import { canonicalJson, type JournalEntry, Manager } from "@froctal/manager";
import { VirtualClock } from "@froctal/primitives";
import { app, device, FakeAgent, type FakeSession, MemoryDriver, MemoryState, ready, settle } from "@froctal/testkit";
import { expect } from "vitest";
import { Guest } from "./rollout-agent-guest.js";
import { desired, fleet, MTUS, type Outcome, PREFIXES, ROUTERS, type Step, TIMEOUT_MS } from "./rollout-agent-trace.js";

/** The guests, the manager in front of them, and everything observed so far. */
export class World {
  readonly clock = new VirtualClock();
  readonly driver = new MemoryDriver({ clock: this.clock });
  readonly state = new MemoryState();
  readonly facts = { prefix: PREFIXES[0] as string, mtu: MTUS[0] as number };
  readonly violations: string[] = [];
  /** Every rollout entry journaled, across every manager. */
  readonly journal: string[] = [];
  manager!: Manager;
  guests: Guest[] = [];
  /** Commits a guest applied after its generation's outcome was recorded. */
  lateCommits = 0;
  /** Journaled generations that name a guest that did not commit them. */
  failuresJournaled = 0;
  /** Outcomes in the order they were journaled, across every manager. */
  private readonly outcomes: { readonly generation: number; readonly result: string }[] = [];
  /** The prepares seen for each generation: which instance was offered what. */
  private readonly offered = new Map<number, Map<string, string>>();
  /** The highest generation seen in an earlier step (a prepare or an outcome). */
  private highest = 0;
  /** Sessions of managers that were shut down, with how many frames they had then. */
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
    const report = await this.manager.restore();
    // (b) Generations only grow, across restarts too.
    if (report.generation < this.highest) {
      this.violations.push(`a restarted manager resumes at generation ${report.generation}, below ${this.highest}`);
    }
    this.manager.start();
    await settle(this.clock);
  }

  /** Runs inside the manager's tick: the guests are between two frames, so what they applied is settled. */
  private journaled(e: JournalEntry): void {
    const m = e.kind === "rollout" ? /^generation (\d+) (committed|aborted) on ([^:;]*)/.exec(e.message) : null;
    if (m === null) return;
    this.journal.push(e.message);
    const generation = Number(m[1]);
    const last = this.outcomes.at(-1);
    if (last !== undefined && generation <= last.generation) {
      this.violations.push(`outcome of generation ${generation} after that of ${last.generation}`);
    }
    this.outcomes.push({ generation, result: m[2]! });
    if (m[2] !== "committed") return;
    // The journal tells who runs the generation: it names as committed only guests that applied it,
    // and a guest whose commit failed as one that did not commit it (describeOutcome's wording).
    const guest = (id: string) => this.guests.find((g) => g.id === id);
    for (const id of m[3] === "no instance" ? [] : m[3]!.split(", ")) {
      if (!guest(id)?.applied.some((a) => a.generation === generation)) {
        this.violations.push(`the journal says ${id} committed generation ${generation}, which it never applied`);
      }
    }
    for (const [, id] of e.message.matchAll(/; (router-\d) did not commit it and runs generation \d+: /g)) {
      this.failuresJournaled++;
      const g = guest(id!);
      if (!g?.failedGenerations.has(generation) || g.applied.some((a) => a.generation === generation)) {
        this.violations.push(
          `the journal says ${id} did not commit generation ${generation}, but its commit did not fail`,
        );
      }
    }
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

  /** The routers' facts, reported on every session (a fresh manager knows none of them). */
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
      if (g.applied.length > appliedBefore) {
        this.checkAllPrepared(g, g.running.generation);
        if (this.outcomes.some((o) => o.generation === g.running.generation)) this.lateCommits++;
      }
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
        // The manager dies: its connections with it. The guests keep running, and reconnect later.
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

  /** Lets the manager run what is due, takes what it sent into the guests' inboxes, and checks. */
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
    // (b) A generation is handed out in one go (one begin), above every generation seen before, from one snapshot.
    for (const [generation, offers] of fresh) {
      if (this.offered.has(generation)) this.violations.push(`generation ${generation} was handed out again`);
      else if (generation <= this.highest) {
        this.violations.push(`generation ${generation} handed out after ${this.highest}`);
      }
      this.offered.set(generation, offers);
      this.checkSnapshot(generation, offers);
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

  /** Every configuration of one generation derives from the same facts. */
  private checkSnapshot(generation: number, offers: Map<string, string>): void {
    const parsed = [...offers.values()].map(
      (json) => JSON.parse(json) as { routes: { prefix: string }[]; mtu?: number },
    );
    const prefix = parsed.flatMap((c) => c.routes)[0]?.prefix;
    const mtu = parsed.find((c) => c.mtu !== undefined)?.mtu;
    for (const [id, json] of offers) {
      if (json !== canonicalJson(desired(id, prefix, mtu))) {
        this.violations.push(`generation ${generation} offers ${id} ${json}, not of one snapshot with the others`);
      }
    }
  }

  private check(): void {
    // (a) Nothing aborted is ever applied; what is applied is what was offered.
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
      // (b) The manager's belief is never ahead of what the guest applied, nor behind what the guest told it.
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
    // A manager that was shut down sends nothing more.
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

  /** Every guest handles what it received and accepts, until the manager has nothing more to say (bounded). */
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

  /** Every guest runs its desired configuration, and the manager knows which generation that is. */
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

  /** How many generations ended with this result. */
  count(result: "committed" | "aborted"): number {
    return this.outcomes.filter((o) => o.result === result).length;
  }

  expected(id: string): string {
    return canonicalJson(desired(id, this.facts.prefix, this.facts.mtu));
  }

  /** How many prepares went out so far. */
  get offers(): number {
    let n = 0;
    for (const offers of this.offered.values()) n += offers.size;
    return n;
  }
}

/** Plays a trace, checking after every step; then heals the network and checks (c). */
export async function run(steps: readonly Step[]): Promise<World> {
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
  // ...and agree: one network, one MTU, everywhere.
  const running = w.guests.map((g) => JSON.parse(g.running.json) as { routes: unknown[]; mtu?: number });
  expect(new Set(running.flatMap((c) => c.routes.map((r) => JSON.stringify(r))))).toEqual(
    new Set([JSON.stringify({ prefix: w.facts.prefix, via: "router-1" })]),
  );
  expect(new Set(running.flatMap((c) => (c.mtu === undefined ? [] : [c.mtu])))).toEqual(new Set([w.facts.mtu]));
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
