/**
 * Configuration rollout: the desired configuration of every instance is
 * derived; when some instances' desired configuration differs from what they
 * committed, those instances form ONE generation: prepare goes to all of them,
 * commit goes out only when every one has prepared, and any nack, disconnect
 * or timeout aborts it everywhere, so each keeps its previous configuration.
 * Changes that arrive while a generation is in flight wait, and are coalesced
 * into the next one; they are never interleaved with it.
 */

import type { Clock, Disposer } from "@froctal/primitives";
import type { ConfigAck } from "@froctal/protocol";
import { ConfigAckStatus } from "@froctal/protocol";
import { makeObservable, observable } from "mobx";
import type { Instance } from "../store/instance.js";

const utf8 = new TextEncoder();

export interface Participant {
  readonly instance: Instance;
  /** The configuration to commit, as canonical JSON. */
  readonly json: string;
}

export type RolloutOutcome =
  | {
      readonly generation: number;
      readonly result: "committed";
      readonly instances: readonly string[];
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
}

interface InFlight {
  readonly generation: number;
  readonly nonce: string;
  readonly participants: readonly Participant[];
  /** The participants by instance: an answer finds its own in O(1), not by scanning a thousand. */
  readonly byInstance: ReadonlyMap<Instance, Participant>;
  readonly prepared: Set<string>;
  readonly committed: Set<string>;
  phase: "preparing" | "committing";
  timer: Disposer;
}

export interface RolloutOptions {
  readonly clock: Clock;
  /** How long participants have to prepare (and to confirm a commit), ms. */
  readonly timeoutMs: number;
  /** The last generation handed out (restored from durable state on restart). */
  readonly lastGeneration: number;
  readonly onOutcome: (outcome: RolloutOutcome) => void;
  /** Called with each generation before it is first used, so it can be made durable (never reused). */
  readonly reserve?: (generation: number) => void;
}

export class Rollout {
  private generation: number;
  private current: InFlight | undefined;
  /** Fingerprint of the last aborted change set and when it may be retried. */
  private retry: { fingerprint: string; notBefore: number; delay: number } | undefined;
  private retryTimer: Disposer | undefined;

  /** Bumped whenever a generation ends or a retry comes due: the next round may start. */
  epoch = 0;

  constructor(private readonly options: RolloutOptions) {
    this.generation = options.lastGeneration;
    makeObservable(this, { epoch: observable });
  }

  /** The generation in flight, for status: who takes part and who has answered. */
  get inFlight(): RolloutInFlight | undefined {
    const f = this.current;
    if (f === undefined) return undefined;
    return {
      generation: f.generation,
      phase: f.phase,
      instances: f.participants.map((p) => p.instance.id),
      prepared: [...f.prepared],
      committed: [...f.committed],
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
    const fingerprint = participants.map((p) => `${p.instance.id}=${p.json}`).join("\n");
    const now = this.options.clock.now();
    if (this.retry && this.retry.fingerprint === fingerprint && now < this.retry.notBefore) return undefined;
    const generation = ++this.generation;
    this.options.reserve?.(generation);
    const nonce = `g${generation}`;
    const flight: InFlight = {
      generation,
      nonce,
      participants,
      byInstance: new Map(participants.map((p) => [p.instance, p])),
      prepared: new Set(),
      committed: new Set(),
      phase: "preparing",
      timer: this.options.clock.setTimeout(() => this.abort(this.silence()), this.options.timeoutMs),
    };
    this.current = flight;
    for (const p of participants) {
      const sent = p.instance.session?.send({
        prepare: {
          generation,
          nonce,
          config: utf8.encode(p.json),
          mediaType: "application/json",
          timeoutMs: this.options.timeoutMs,
        },
      });
      if (!sent) {
        this.abort(`${p.instance.id} could not be reached`);
        return generation;
      }
    }
    return generation;
  }

  /** An instance answered. Stale nonces are ignored, except that a late commit says what the guest now runs. */
  acknowledge(instance: Instance, ack: ConfigAck): void {
    const flight = this.current;
    if (
      flight === undefined ||
      ack.nonce !== flight.nonce ||
      ack.generation !== flight.generation ||
      !flight.byInstance.has(instance)
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
        this.abort(`${instance.id} refused generation ${flight.generation}: ${ack.reason || "no reason given"}`);
        return;
      case ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED: {
        const json = flight.byInstance.get(instance)!.json;
        instance.recordCommit(ack.runningGeneration, json);
        flight.committed.add(instance.id);
        if (flight.committed.size === flight.participants.length) this.finish(flight);
        return;
      }
      default:
        return;
    }
  }

  /** A participant's session closed: before commit the generation aborts; after, it will resync on reconnect. */
  disconnected(instance: Instance): void {
    const flight = this.current;
    if (flight === undefined || !flight.byInstance.has(instance)) return;
    if (flight.phase === "preparing") this.abort(`${instance.id} disconnected before it prepared`);
    else {
      flight.committed.add(instance.id);
      if (flight.committed.size === flight.participants.length) this.finish(flight);
    }
  }

  close(): void {
    this.retryTimer?.();
    this.current?.timer();
    this.current = undefined;
  }

  /** Names who kept the current generation waiting, for the abort reason. */
  private silence(): string {
    const flight = this.current;
    if (flight === undefined) return "";
    const answered = flight.phase === "preparing" ? flight.prepared : flight.committed;
    const silent = flight.participants.map((p) => p.instance.id).filter((id) => !answered.has(id));
    return `${silent.join(", ")} did not answer within ${this.options.timeoutMs} ms`;
  }

  private commit(flight: InFlight): void {
    flight.phase = "committing";
    for (const p of flight.participants) {
      p.instance.session?.send({ commit: { generation: flight.generation, nonce: flight.nonce } });
    }
  }

  private finish(flight: InFlight): void {
    flight.timer();
    this.current = undefined;
    this.retry = undefined;
    this.options.onOutcome({
      generation: flight.generation,
      result: "committed",
      instances: flight.participants.map((p) => p.instance.id),
      at: this.options.clock.now(),
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
    for (const p of flight.participants) {
      p.instance.session?.send({ abort: { generation: flight.generation, nonce: flight.nonce, reason } });
    }
    const fingerprint = flight.participants.map((p) => `${p.instance.id}=${p.json}`).join("\n");
    const delay = Math.min(30_000, this.retry?.fingerprint === fingerprint ? this.retry.delay * 2 : 1_000);
    this.retry = { fingerprint, notBefore: this.options.clock.now() + delay, delay };
    this.options.onOutcome({
      generation: flight.generation,
      result: "aborted",
      instances: flight.participants.map((p) => p.instance.id),
      reason,
      at: this.options.clock.now(),
    });
    this.retryTimer?.();
    this.retryTimer = this.options.clock.setTimeout(() => this.epoch++, delay);
    this.epoch++;
  }
}
