/**
 * A small, real Ingest for demos and tests: it admits the instances it has
 * tokens for, applies each event once (deduplicated by instance, stream and
 * seq) and acknowledges it as it applies it, keeps every metric's latest
 * value, records config acks, and lets a caller watch all of it. The manager
 * core's IngestAdapter replaces it in production.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { Admission, AgentSession, Channel, Ingest } from "@froctal/manager";
import type { Disposer } from "@froctal/primitives";
import type { ConfigAck, Event, Hello, MetricDecl, MetricKind } from "@froctal/protocol";

export interface RecordedEvent {
  readonly instanceId: string;
  readonly streamId: string;
  readonly seq: number;
  readonly event: Event;
}

export interface MetricValue {
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
  readonly value: number;
}

export interface RecordedConfigAck {
  readonly instanceId: string;
  readonly sessionId: string;
  readonly ack: ConfigAck;
}

export interface RecordingIngest extends Ingest {
  /** Every event applied, in order, each once. */
  readonly events: readonly RecordedEvent[];
  readonly configAcks: readonly RecordedConfigAck[];
  /** Open sessions by instance id. */
  readonly sessions: ReadonlyMap<string, AgentSession>;
  /** The last hello each instance was admitted with. */
  readonly hellos: ReadonlyMap<string, Hello>;
  /** What the agents got wrong without breaking the contract the edge checks. */
  readonly anomalies: {
    /** Events at or below the stream's applied seq, dropped (a re-send after a reconnect is normal). */
    readonly duplicates: number;
    /** Times a stream skipped seqs: their events were acked by an earlier manager, or lost. */
    readonly gaps: number;
    /** Samples of a metric id the session never declared, dropped. */
    readonly undeclaredSamples: number;
  };
  /** Latest value of each metric an instance reported, by name. */
  metrics(instanceId: string): ReadonlyMap<string, MetricValue>;
  /** Highest seq applied for the stream (0: none). */
  appliedSeq(instanceId: string, streamId: string): number;
  /** Calls `listener` after every change, for whoever waits for something to arrive. */
  subscribe(listener: () => void): Disposer;
}

export interface RecordingIngestOptions {
  /** Token per instance id, issued at launch. Read live: instances added later may connect. */
  readonly tokens: ReadonlyMap<string, string>;
}

export function createRecordingIngest(options: RecordingIngestOptions): RecordingIngest {
  const events: RecordedEvent[] = [];
  const configAcks: RecordedConfigAck[] = [];
  const sessions = new Map<string, AgentSession>();
  const hellos = new Map<string, Hello>();
  const applied = new Map<string, Map<string, number>>();
  const metrics = new Map<string, Map<string, MetricValue>>();
  /** Metric ids are connection-scoped: one table per session, dropped with it. */
  const decls = new Map<string, Map<number, MetricDecl>>();
  const anomalies = { duplicates: 0, gaps: 0, undeclaredSamples: 0 };
  const listeners = new Set<() => void>();

  const notify = () => {
    for (const listener of [...listeners]) listener();
  };
  const appliedSeq = (instanceId: string, streamId: string) => applied.get(instanceId)?.get(streamId) ?? 0;

  return {
    events,
    configAcks,
    sessions,
    hellos,
    anomalies,
    appliedSeq,
    metrics: (instanceId) => metrics.get(instanceId) ?? new Map(),
    subscribe(listener) {
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
      };
    },

    admit(hello: Hello, channel: Channel): Admission {
      const ok: Admission = { ok: true, ackedSeq: appliedSeq(hello.instanceId, hello.streamId) };
      if (channel.instanceId !== undefined) {
        return channel.instanceId === hello.instanceId
          ? ok
          : { ok: false, code: "FROCTAL_E_AUTH", reason: `this channel belongs to instance ${channel.instanceId}` };
      }
      const token = options.tokens.get(hello.instanceId);
      if (token === undefined) {
        return { ok: false, code: "FROCTAL_E_AUTH", reason: `instance ${hello.instanceId} is unknown` };
      }
      if (!sameSecret(token, hello.token)) {
        return {
          ok: false,
          code: "FROCTAL_E_AUTH",
          reason: `the token of instance ${hello.instanceId} does not match`,
        };
      }
      return ok;
    },

    opened(session, hello) {
      sessions.set(session.instanceId, session);
      hellos.set(session.instanceId, hello);
      decls.set(session.sessionId, new Map());
      notify();
    },

    batch(session, batch) {
      const { instanceId, streamId } = session;
      const streams = getOrAdd(applied, instanceId, () => new Map<string, number>());
      let seq = streams.get(streamId) ?? 0;
      batch.events.forEach((event, i) => {
        const s = batch.firstSeq + i;
        if (s <= seq) {
          anomalies.duplicates++;
          return;
        }
        // Waiting for the missing seqs would stall the stream forever: the agent no longer holds them.
        if (s > seq + 1) anomalies.gaps++;
        seq = s;
        events.push({ instanceId, streamId, seq: s, event });
      });
      streams.set(streamId, seq);

      const table = getOrAdd(decls, session.sessionId, () => new Map<number, MetricDecl>());
      for (const decl of batch.metricDecls) table.set(decl.id, decl);
      const values = getOrAdd(metrics, instanceId, () => new Map<string, MetricValue>());
      batch.metricIds.forEach((id, i) => {
        const decl = table.get(id);
        if (!decl) {
          anomalies.undeclaredSamples++;
          return;
        }
        values.set(decl.name, { name: decl.name, kind: decl.kind, unit: decl.unit, value: batch.metricValues[i]! });
      });
      notify();
      // Applied at once, so acknowledged at once (the manager's ingest waits for its tick).
      session.ack(seq);
    },

    configAck(session, ack) {
      configAcks.push({ instanceId: session.instanceId, sessionId: session.sessionId, ack });
      notify();
    },

    closed(session) {
      if (sessions.get(session.instanceId) === session) sessions.delete(session.instanceId);
      decls.delete(session.sessionId);
      notify();
    },
  };
}

function getOrAdd<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key);
  if (value === undefined) {
    value = make();
    map.set(key, value);
  }
  return value;
}

/** Compares secrets in constant time; hashing first hides their lengths too. */
function sameSecret(a: string, b: string): boolean {
  const digest = (s: string) => createHash("sha256").update(s).digest();
  return timingSafeEqual(digest(a), digest(b));
}
