/**
 * The core's side of the Ingest port: decides who may connect, turns checked
 * frames into tick inputs, and acknowledges events once a tick has applied
 * them. Runs outside ticks (except applied(), which the tick calls), so it
 * touches only plain bookkeeping (sessions, stream positions, metric tables),
 * never observable facts.
 *
 * Each instance's event stream has two positions: the highest seq queued for
 * a tick (instance.acceptedSeq, what a re-send is deduplicated against) and
 * the highest seq a tick has applied (the only one ever acknowledged, in an
 * Ack or a hello). Events between the two stay with the agent until applied,
 * so a tick that never runs (a runaway stops the ticker) loses nothing the
 * agent was told is safe. The two differ only while batches wait for their
 * tick; only then does an instance have a Lag record, so an idle instance
 * costs nothing more.
 */
import type { Batch, ConfigAck, ErrorCode, Hello } from "@froctal/protocol";
import type { Admission, AgentSession, Channel, Ingest } from "../ports/ingest.js";
import type { Instance } from "../store/instance.js";
import type { FleetStore, SlotTable } from "../store/store.js";
import type { TickInput } from "../tick/input.js";

/** How many distinct metric names one instance may report. */
export const MAX_METRICS_PER_INSTANCE = 1024;

type BatchInput = Extract<TickInput, { kind: "batch" }>;

/** An instance's stream while some of its queued events wait for a tick. */
interface Lag {
  /** Highest seq of the instance's stream applied so far; each advance is told to instance.session, if open. */
  applied: number;
  /** Batches with events queued and not yet applied, in push order: the ticker applies them in that order. */
  readonly pending: { readonly batch: Batch; readonly last: number }[];
}

export class IngestAdapter implements Ingest {
  /** Each open session's instance and metric table: one lookup a batch, by session identity. */
  private readonly sessions = new Map<AgentSession, { readonly instance: Instance; readonly table: SlotTable }>();
  /** Per instance, not per session: a batch queued before a reconnect is acknowledged to the new session. */
  private readonly lags = new WeakMap<Instance, Lag>();
  readonly stats = {
    admitted: 0,
    refused: 0,
    batches: 0,
    events: 0,
    duplicates: 0,
    samples: 0,
    undeclared: 0,
    /** Metric declarations ignored because the instance already has MAX_METRICS_PER_INSTANCE names. */
    overLimit: 0,
  };

  /**
   * False until the manager starts: before restore() has re-adopted the
   * guests that still run, a guest's hello cannot be told from a stranger's,
   * so every hello is asked to come back (retryable), never refused for good.
   */
  open = false;

  constructor(
    private readonly store: FleetStore,
    private readonly push: (input: TickInput) => void,
  ) {}

  admit(hello: Hello, channel: Pick<Channel, "instanceId">): Admission {
    const instance = this.store.instance(hello.instanceId);
    const refuse = (code: ErrorCode, reason: string): Admission => {
      this.stats.refused++;
      return { ok: false, code, reason };
    };
    if (!this.open) return refuse("FROCTAL_E_STARTING", "the manager is starting; try again in a moment");
    if (instance === undefined || instance.phase === "gone") {
      return refuse("FROCTAL_E_AUTH", `no instance ${hello.instanceId} is running in this fleet`);
    }
    if (channel.instanceId !== undefined) {
      if (channel.instanceId !== hello.instanceId) {
        return refuse("FROCTAL_E_AUTH", `the channel belongs to ${channel.instanceId}, not ${hello.instanceId}`);
      }
    } else if (!sameToken(hello.token, instance.token)) {
      return refuse(
        "FROCTAL_E_AUTH",
        `the token presented for ${hello.instanceId} is not the one it was launched with`,
      );
    }
    this.stats.admitted++;
    return { ok: true, ackedSeq: instance.streamId === hello.streamId ? this.appliedSeq(instance) : 0 };
  }

  opened(session: AgentSession, hello: Hello): void {
    const instance = this.store.instance(session.instanceId);
    if (instance === undefined) return;
    if (instance.streamId !== hello.streamId) {
      // A new stream starts from 0; batches of the old one still queued are applied but never acknowledged.
      instance.streamId = hello.streamId;
      instance.acceptedSeq = 0;
      this.lags.delete(instance);
    }
    instance.session = session;
    this.sessions.set(session, { instance, table: [] });
    this.push({ kind: "opened", instance, session, hello });
  }

  batch(session: AgentSession, batch: Batch): void {
    const open = this.sessions.get(session);
    if (open === undefined || open.instance.session !== session) return;
    const { instance, table } = open;
    for (const decl of batch.metricDecls) {
      // Each distinct name costs an aggregate slot for the life of the instance: bound them.
      if (instance.metricCount >= MAX_METRICS_PER_INSTANCE && instance.metricSlot(decl.name) === undefined) {
        this.stats.overLimit++;
        continue;
      }
      table[decl.id] = instance.slot(this.store.service(instance.service).metric(decl.name));
    }
    for (const id of batch.metricIds) if (table[id] === undefined) this.stats.undeclared++;
    this.stats.batches++;
    this.stats.samples += batch.metricIds.length;

    const n = batch.events.length;
    let skip = 0;
    if (n > 0) {
      const last = batch.firstSeq + n - 1;
      skip = Math.min(n, Math.max(0, instance.acceptedSeq - batch.firstSeq + 1));
      this.stats.duplicates += skip;
      this.stats.events += n - skip;
      // A batch whose every event was taken before needs no Ack of its own: the hello carried what was
      // applied, and what is still queued is acknowledged when the tick applies it.
      if (skip < n) {
        let lag = this.lags.get(instance);
        if (lag === undefined) {
          lag = { applied: instance.acceptedSeq, pending: [] };
          this.lags.set(instance, lag);
        }
        lag.pending.push({ batch, last });
        instance.acceptedSeq = last;
      }
    }
    if (batch.metricIds.length > 0 || skip < n) this.push({ kind: "batch", instance, batch, skip, table });
  }

  /**
   * Called by the tick for each batch input it applied, once it has applied
   * them: acknowledges the batch's events to the instance's open session (or,
   * if none is open, to the next hello). Acks are cumulative, so a batch that
   * a throwing tick left unapplied is covered by the next batch of its stream
   * a later tick applies: a throwing tick is a bug in the core, reported as
   * one, and loses its inputs whatever is acknowledged.
   */
  applied(input: BatchInput): void {
    const { instance } = input;
    const lag = this.lags.get(instance);
    if (lag === undefined) return;
    const { pending } = lag;
    let i = 0;
    while (i < pending.length && pending[i]!.batch !== input.batch) i++;
    // Not pending on this stream: only samples, all duplicates, or a batch of a stream since replaced.
    if (i === pending.length) return;
    const { last } = pending[i]!;
    pending.splice(0, i + 1);
    // Caught up: applied is now acceptedSeq again, and the record goes.
    if (pending.length === 0) this.lags.delete(instance);
    if (last <= lag.applied) return;
    lag.applied = last;
    instance.session?.ack(last);
  }

  configAck(session: AgentSession, ack: ConfigAck): void {
    const instance = this.current(session);
    if (instance !== undefined) this.push({ kind: "configAck", instance, ack });
  }

  closed(session: AgentSession, reason: string): void {
    this.sessions.delete(session);
    const instance = this.store.instance(session.instanceId);
    if (instance === undefined || instance.session !== session) return;
    instance.session = undefined;
    this.push({ kind: "closed", instance, session, reason });
  }

  /** How far an instance's stream was queued for a tick, and how far applied (and so acknowledged). */
  position(instance: Instance): { readonly streamId: string; readonly queued: number; readonly applied: number } {
    return { streamId: instance.streamId, queued: instance.acceptedSeq, applied: this.appliedSeq(instance) };
  }

  private appliedSeq(instance: Instance): number {
    return this.lags.get(instance)?.applied ?? instance.acceptedSeq;
  }

  /** The instance a session speaks for, if that session is still its current one. */
  private current(session: AgentSession): Instance | undefined {
    const instance = this.sessions.get(session)?.instance;
    return instance?.session === session ? instance : undefined;
  }
}

/** Compares tokens in time independent of where they differ. */
function sameToken(a: string, b: string): boolean {
  let diff = a.length ^ b.length;
  for (let i = 0; i < b.length; i++) diff |= (a.charCodeAt(i) || 0) ^ b.charCodeAt(i);
  return diff === 0 && b.length > 0;
}
