/**
 * Configuration rollout: the desired configuration of every instance is
 * derived; when some instances' desired configuration differs from what they
 * committed, those instances form ONE generation: prepare goes to all of them,
 * commit goes out only when every one has prepared, and any nack, disconnect
 * or timeout aborts it everywhere, so each keeps its previous configuration.
 * Changes that arrive while a generation is in flight wait, and are coalesced
 * into the next one; they are never interleaved with it.
 *
 * Once commit went out the generation stands (it is never aborted after some
 * guest may have applied it), and each participant's answer is recorded as
 * it is: committed; failed (the guest's commit handler failed, so it still
 * runs the generation it reports, and is offered the change again after a
 * backoff); or unconfirmed (it left or stayed silent: offered again when the
 * store next sees it differ).
 *
 * Every push has its own nonce (generation, a counter, and a tag drawn once
 * per Rollout, so a manager that restarted and reuses a generation does not
 * reuse a nonce): an answer is taken only with the nonce of its own push.
 *
 * The Rollout owns its generation in flight; it writes nothing itself. Each
 * step (prepare, commit, abort) is a typed Configure handed to the injected
 * `configure` (execute/perform.ts: `command`, the one door to the world),
 * which writes it at once: a step is never queued behind a driver call.
 */

import type { Clock, Disposer } from "@froctal/primitives";
import type { ConfigAck } from "@froctal/protocol";
import { ConfigAckStatus } from "@froctal/protocol";
import { makeObservable, observable } from "mobx";
import type { Configure } from "../reconcile/action.js";

/**
 * Who takes part in a generation: a guest (store/instance.ts) or the network
 * (rollout/network.ts). The rollout needs only its id and what it committed.
 */
export interface Party {
  readonly id: string;
  /** The generation it runs. */
  readonly generation: number;
  /** The configuration it runs, as canonical JSON ("" when not known). */
  readonly committedJson: string;
  recordCommit(generation: number, json: string): void;
}

export interface Participant {
  readonly party: Party;
  /** The configuration to commit, as canonical JSON. */
  readonly json: string;
}

/** A participant whose guest answered commit with a failure: it runs `running`, not the generation. */
export interface CommitFailure {
  readonly instance: string;
  readonly running: number;
  readonly reason: string;
}

/** What one participant of a generation that went to commit ended up with. */
export type ParticipantResult =
  | { readonly instance: string; readonly result: "committed" }
  | ({ readonly result: "failed" } & CommitFailure)
  | { readonly instance: string; readonly result: "unconfirmed"; readonly reason: string };

export type RolloutOutcome =
  | {
      readonly generation: number;
      /** Commit went out to every participant: the generation stands; `results` says who runs it. */
      readonly result: "committed";
      readonly instances: readonly string[];
      readonly results: readonly ParticipantResult[];
      readonly at: number;
    }
  | {
      readonly generation: number;
      readonly result: "aborted";
      readonly instances: readonly string[];
      readonly reason: string;
      readonly at: number;
    };

export interface RolloutInFlight {
  readonly generation: number;
  readonly phase: "preparing" | "committing";
  readonly instances: readonly string[];
  readonly prepared: readonly string[];
  readonly committed: readonly string[];
  /** Participants that answered commit with a failure, and why. */
  readonly failed: readonly CommitFailure[];
}

/** One participant's push: the nonce its answers must carry. */
interface Push {
  readonly participant: Participant;
  readonly nonce: string;
}

interface InFlight {
  readonly generation: number;
  readonly participants: readonly Participant[];
  /** The pushes by participant: an answer finds its own in O(1), not by scanning a thousand. */
  readonly byParty: ReadonlyMap<Party, Push>;
  readonly prepared: Set<string>;
  readonly committed: Set<string>;
  readonly failed: Map<string, CommitFailure>;
  /** Participants that left after commit went out, with why. */
  readonly unconfirmed: Map<string, string>;
  phase: "preparing" | "committing";
  timer: Disposer;
  /** When prepare went out (clock.now()), for the rollout's duration in stats. */
  readonly startedAt: number;
}

export interface RolloutOptions {
  readonly clock: Clock;
  /** How long participants have to prepare (and to confirm a commit), ms. */
  readonly timeoutMs: number;
  /** The last generation handed out (restored from durable state on restart). */
  readonly lastGeneration: number;
  readonly onOutcome: (outcome: RolloutOutcome) => void;
  /**
   * Writes one step to a participant's session now (execute/perform.ts: `command`); false when it could
   * not be written (no session, closed, backed up).
   */
  readonly configure: (party: Party, step: Configure) => boolean;
  /** Called with each generation before it is first used, so it can be made durable (never reused). */
  readonly reserve?: (generation: number) => void;
  /** Part of every nonce, unique to this Rollout (default: 32 random bits); tests may fix it. */
  readonly nonceTag?: string;
}

/** Doubles per failure of the same change set, from 1 s up to 30 s. */
const RETRY_FIRST_MS = 1_000;
const RETRY_MAX_MS = 30_000;

export class Rollout {
  private generation: number;
  private current: InFlight | undefined;
  /** Fingerprint of the last change set that failed (aborted, or refused at commit) and when it may be retried. */
  private retry: { fingerprint: string; notBefore: number; delay: number } | undefined;
  private retryTimer: Disposer | undefined;
  private readonly nonceTag: string;
  private pushes = 0;

  /** Bumped whenever a generation ends or a retry comes due: the next round may start. */
  epoch = 0;

  /** Counters for /metrics: outcomes since start, and how long the last generation took (prepare to outcome). */
  readonly stats = { committed: 0, aborted: 0, lastDurationMs: 0 };

  constructor(private readonly options: RolloutOptions) {
    this.generation = options.lastGeneration;
    this.nonceTag = options.nonceTag ?? randomTag();
    makeObservable(this, { epoch: observable });
  }

  /** The generation in flight, for status: who takes part and who has answered. */
  get inFlight(): RolloutInFlight | undefined {
    const f = this.current;
    if (f === undefined) return undefined;
    return {
      generation: f.generation,
      phase: f.phase,
      instances: f.participants.map((p) => p.party.id),
      prepared: [...f.prepared],
      committed: [...f.committed],
      failed: [...f.failed.values()],
    };
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  get lastGeneration(): number {
    return this.generation;
  }

  /** Continues numbering after `generation` (restored from durable state); never goes back. */
  resumeAfter(generation: number): void {
    this.generation = Math.max(this.generation, generation);
  }

  /** Starts a generation for these participants unless one is in flight; returns its number or undefined. */
  begin(participants: readonly Participant[]): number | undefined {
    if (this.current !== undefined || participants.length === 0) return undefined;
    const now = this.options.clock.now();
    if (this.retry && this.retry.fingerprint === fingerprintOf(participants) && now < this.retry.notBefore) {
      return undefined;
    }
    const generation = ++this.generation;
    this.options.reserve?.(generation);
    const byParty = new Map<Party, Push>();
    for (const p of participants) {
      byParty.set(p.party, { participant: p, nonce: `g${generation}.${++this.pushes}.${this.nonceTag}` });
    }
    const flight: InFlight = {
      generation,
      participants,
      byParty,
      prepared: new Set(),
      committed: new Set(),
      failed: new Map(),
      unconfirmed: new Map(),
      phase: "preparing",
      timer: this.options.clock.setTimeout(() => this.timedOut(), this.options.timeoutMs),
      startedAt: this.options.clock.now(),
    };
    this.current = flight;
    const { configure, timeoutMs } = this.options;
    for (const { participant: p, nonce } of byParty.values()) {
      // One that cannot be written cannot prepare: the generation aborts now rather than at its timeout.
      if (!configure(p.party, { kind: "configure", step: "prepare", generation, nonce, json: p.json, timeoutMs })) {
        this.abort(`${p.party.id} could not be reached`);
        return generation;
      }
    }
    return generation;
  }

  /** An instance answered. Stale nonces are ignored, except that a late commit says what the guest now runs. */
  acknowledge(instance: Party, ack: ConfigAck): void {
    const flight = this.current;
    const push = flight?.byParty.get(instance);
    if (
      flight === undefined ||
      push === undefined ||
      ack.nonce !== push.nonce ||
      ack.generation !== flight.generation
    ) {
      // A commit confirmed after its generation ended (it timed out, the guest applied it after a reconnect,
      // or a manager before a restart sent it): what the guest runs is unknown, so it is offered again.
      if (ack.status === ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED && ack.runningGeneration > instance.generation) {
        instance.recordCommit(ack.runningGeneration, "");
      }
      return;
    }
    switch (ack.status) {
      case ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED:
        flight.prepared.add(instance.id);
        if (flight.phase === "preparing" && flight.prepared.size === flight.participants.length) this.commit(flight);
        return;
      case ConfigAckStatus.CONFIG_ACK_STATUS_NACKED:
        if (flight.phase === "committing") this.commitFailed(flight, instance, ack);
        else this.abort(`${instance.id} refused generation ${flight.generation}: ${ack.reason || "no reason given"}`);
        return;
      case ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED:
        if (flight.failed.has(instance.id)) return; // it said otherwise first; a guest answers a commit once
        instance.recordCommit(ack.runningGeneration, push.participant.json);
        flight.unconfirmed.delete(instance.id); // back after a disconnect, with its answer
        flight.committed.add(instance.id);
        this.finishIfAnswered(flight);
        return;
      case ConfigAckStatus.CONFIG_ACK_STATUS_ABORTED:
        // Dropping a generation it was told to commit is a failed commit; before commit, nothing to record.
        if (flight.phase === "committing") this.commitFailed(flight, instance, ack);
        return;
      default:
        return; // a status this manager does not know (a newer agent): ignored, as unknown fields are
    }
  }

  /** A participant's session closed: before commit the generation aborts; after, it will resync on reconnect. */
  disconnected(instance: Party): void {
    const flight = this.current;
    if (flight === undefined || !flight.byParty.has(instance)) return;
    if (flight.phase === "preparing") this.abort(`${instance.id} disconnected before it prepared`);
    else if (!answered(flight, instance.id)) {
      flight.unconfirmed.set(instance.id, "it disconnected after commit went out");
      this.finishIfAnswered(flight);
    }
  }

  close(): void {
    this.retryTimer?.();
    this.current?.timer();
    this.current = undefined;
  }

  /** The guest answered commit with a failure: it runs what it reports, which the store records. */
  private commitFailed(flight: InFlight, instance: Party, ack: ConfigAck): void {
    if (flight.committed.has(instance.id) || flight.failed.has(instance.id)) return; // a guest answers once
    flight.unconfirmed.delete(instance.id); // back after a disconnect, with its answer
    const running = ack.runningGeneration;
    // Still the generation on record: it runs the configuration it had, which stays committed (and differs
    // from the desired one, so it is offered again). Another one: the store does not know its configuration.
    if (running !== instance.generation) instance.recordCommit(running, "");
    flight.failed.set(instance.id, { instance: instance.id, running, reason: ack.reason || "no reason given" });
    this.finishIfAnswered(flight);
  }

  private timedOut(): void {
    const flight = this.current;
    if (flight === undefined) return;
    if (flight.phase === "preparing") {
      const silent = flight.participants.map((p) => p.party.id).filter((id) => !flight.prepared.has(id));
      this.abort(`${silent.join(", ")} did not answer within ${this.options.timeoutMs} ms`);
    } else this.finish(flight);
  }

  private commit(flight: InFlight): void {
    flight.phase = "committing";
    const { generation } = flight;
    // One that cannot take it now is left to the commit timeout, or to its answer after a reconnect.
    for (const { participant: p, nonce } of flight.byParty.values()) {
      this.options.configure(p.party, { kind: "configure", step: "commit", generation, nonce });
    }
  }

  private finishIfAnswered(flight: InFlight): void {
    const n = flight.committed.size + flight.failed.size + flight.unconfirmed.size;
    if (n === flight.participants.length) this.finish(flight);
  }

  /** Ends a generation that went to commit, recording each participant's result. */
  private finish(flight: InFlight): void {
    flight.timer();
    this.current = undefined;
    const silence = `it did not confirm within ${this.options.timeoutMs} ms`;
    const results = flight.participants.map((p): ParticipantResult => {
      const instance = p.party.id;
      if (flight.committed.has(instance)) return { instance, result: "committed" };
      const failure = flight.failed.get(instance);
      if (failure !== undefined) return { result: "failed", ...failure };
      return { instance, result: "unconfirmed", reason: flight.unconfirmed.get(instance) ?? silence };
    });
    const refused = flight.participants.filter((p) => flight.failed.has(p.party.id));
    if (refused.length > 0) this.holdBack(refused);
    else this.retry = undefined;
    this.stats.committed++;
    this.stats.lastDurationMs = this.options.clock.now() - flight.startedAt;
    this.options.onOutcome({
      generation: flight.generation,
      result: "committed",
      instances: flight.participants.map((p) => p.party.id),
      results,
      at: this.options.clock.wallNow(),
    });
    this.epoch++;
  }

  private abort(reason: string): void {
    const flight = this.current;
    if (flight === undefined) return;
    if (flight.phase === "committing") {
      // Commit already went out to everyone: the generation stands; late confirmations resync on reconnect.
      this.finish(flight);
      return;
    }
    flight.timer();
    this.current = undefined;
    const { generation } = flight;
    // Best effort: one that misses it holds a prepared generation no commit will name, until the next push replaces it.
    for (const { participant: p, nonce } of flight.byParty.values()) {
      this.options.configure(p.party, { kind: "configure", step: "abort", generation, nonce, reason });
    }
    this.holdBack(flight.participants);
    this.stats.aborted++;
    this.stats.lastDurationMs = this.options.clock.now() - flight.startedAt;
    this.options.onOutcome({
      generation: flight.generation,
      result: "aborted",
      instances: flight.participants.map((p) => p.party.id),
      reason,
      at: this.options.clock.wallNow(),
    });
    this.epoch++;
  }

  /** The same change set is not tried again before a backoff (doubling while it keeps failing); then the epoch moves. */
  private holdBack(participants: readonly Participant[]): void {
    const fingerprint = fingerprintOf(participants);
    const delay = Math.min(
      RETRY_MAX_MS,
      this.retry?.fingerprint === fingerprint ? this.retry.delay * 2 : RETRY_FIRST_MS,
    );
    this.retry = { fingerprint, notBefore: this.options.clock.now() + delay, delay };
    this.retryTimer?.();
    this.retryTimer = this.options.clock.setTimeout(() => this.epoch++, delay);
  }
}

function answered(flight: InFlight, id: string): boolean {
  return flight.committed.has(id) || flight.failed.has(id) || flight.unconfirmed.has(id);
}

function fingerprintOf(participants: readonly Participant[]): string {
  return participants.map((p) => `${p.party.id}=${p.json}`).join("\n");
}

function randomTag(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(4));
  let hex = "";
  for (const b of bytes) hex += b.toString(16).padStart(2, "0");
  return hex;
}
