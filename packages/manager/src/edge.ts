/**
 * The manager's side of the Ingest port: decides who may connect, and turns
 * checked frames into signals for the next tick. Runs outside ticks, so it
 * touches only plain bookkeeping (sessions, sequence numbers, metric tables),
 * never observable facts.
 */
import type { Batch, ConfigAck, ErrorCode, Hello } from "@froctal/protocol";
import type { Signal } from "./signals.js";
import type { Instance, SessionHandle } from "./store/instance.js";
import type { FleetStore, MetricTable } from "./store/store.js";

export interface EdgeSession extends SessionHandle {
  readonly instanceId: string;
  readonly streamId: string;
}

export type Admission =
  | { readonly ok: true; readonly ackedSeq: number }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

/** How many distinct metric names one instance may report. */
export const MAX_METRICS_PER_INSTANCE = 1024;

export class Edge {
  /** Each open session's instance and metric table: one lookup a batch, by session identity. */
  private readonly sessions = new Map<EdgeSession, { readonly instance: Instance; readonly table: MetricTable }>();
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

  constructor(
    private readonly store: FleetStore,
    private readonly push: (signal: Signal) => void,
  ) {}

  admit(hello: Hello, channel: { readonly instanceId?: string }): Admission {
    const instance = this.store.instance(hello.instanceId);
    const refuse = (code: ErrorCode, reason: string): Admission => {
      this.stats.refused++;
      return { ok: false, code, reason };
    };
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
    return { ok: true, ackedSeq: instance.streamId === hello.streamId ? instance.acceptedSeq : 0 };
  }

  opened(session: EdgeSession, hello: Hello): void {
    const instance = this.store.instance(session.instanceId);
    if (instance === undefined) return;
    if (instance.streamId !== hello.streamId) {
      instance.streamId = hello.streamId;
      instance.acceptedSeq = 0;
    }
    instance.session = session;
    this.sessions.set(session, { instance, table: [] });
    this.push({ kind: "opened", instance, session, hello });
  }

  batch(session: EdgeSession, batch: Batch): number {
    const open = this.sessions.get(session);
    if (open === undefined || open.instance.session !== session) return 0;
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
      if (last > instance.acceptedSeq) instance.acceptedSeq = last;
    }
    if (batch.metricIds.length > 0 || skip < n) this.push({ kind: "batch", instance, batch, skip, table });
    return instance.acceptedSeq;
  }

  configAck(session: EdgeSession, ack: ConfigAck): void {
    const instance = this.current(session);
    if (instance !== undefined) this.push({ kind: "configAck", instance, ack });
  }

  closed(session: EdgeSession, reason: string): void {
    this.sessions.delete(session);
    const instance = this.store.instance(session.instanceId);
    if (instance === undefined || instance.session !== session) return;
    instance.session = undefined;
    this.push({ kind: "closed", instance, session, reason });
  }

  /** The instance a session speaks for, if that session is still its current one. */
  private current(session: EdgeSession): Instance | undefined {
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
