/**
 * A guest's agent reduced to what the manager core sees: it talks to the
 * core's Ingest port (admit, opened, batch, configAck, closed) exactly as the
 * server would after checking the frames, numbers its events, declares its
 * metrics once per session, learns what was acknowledged (the hello's acked
 * seq, then each session.ack), and can re-send events after a reconnect.
 */

import type { Admission, Channel, Ingest } from "@froctal/manager";
import type { Event, Hello } from "@froctal/protocol";
import { FakeSession } from "./fake-session.js";
import { batch, configAck, gauge, hello } from "./frames.js";

/**
 * The Ingest calls a guest causes, as the server makes them; the channel is
 * the part of it the core reads (its instance id, for a per-instance channel).
 */
export interface IngestCalls extends Omit<Ingest, "admit"> {
  admit(hello: Hello, channel: Pick<Channel, "instanceId">): Admission;
}

export interface SendContent {
  /** Gauge samples by metric name (declared on first use in a session). */
  readonly metrics?: Readonly<Record<string, number>>;
  readonly events?: readonly Event[];
}

export class FakeAgent {
  session: FakeSession | undefined;
  /** Highest seq the manager acknowledged, in a hello or an ack. */
  acked = 0;
  /** Every event this agent numbered, seq i at index i - 1. */
  private readonly log: Event[] = [];
  private readonly declared = new Map<string, number>();
  private connections = 0;

  constructor(
    private readonly ingest: IngestCalls,
    readonly instanceId: string,
    public token: string,
    public streamId = `${instanceId}-stream`,
  ) {}

  /** Says hello; on admission opens a session (closing the previous one first, as the server does). */
  connect(overrides: Partial<Hello> = {}, channel: { readonly instanceId?: string } = {}): Admission {
    const h = hello({ instanceId: this.instanceId, token: this.token, streamId: this.streamId, ...overrides });
    const admission = this.ingest.admit(h, channel);
    if (!admission.ok) return admission;
    if (this.session !== undefined) this.disconnect("replaced by a new connection");
    this.session = new FakeSession(this.instanceId, h.streamId, `${this.instanceId}/${++this.connections}`, (seq) => {
      if (seq > this.acked) this.acked = seq;
    });
    this.declared.clear();
    this.acked = admission.ackedSeq;
    this.ingest.opened(this.session, h);
    return admission;
  }

  /** Sends one batch of new events and samples; they are acknowledged once the manager applies them. */
  send(content: SendContent): void {
    const events = content.events ?? [];
    const firstSeq = this.log.length + 1;
    this.log.push(...events);
    this.sendBatch(firstSeq, events, content.metrics ?? {});
  }

  /** Re-sends the events from `from` on (default: everything not acknowledged), as after a reconnect. */
  resend(from = this.acked + 1): void {
    this.sendBatch(from, this.log.slice(from - 1), {});
  }

  /** Answers the latest prepare (prepared / nacked) or commit (committed) the manager sent. */
  answer(status: "prepared" | "nacked" | "committed", reason = ""): void {
    const session = this.requireSession();
    const frames = status === "committed" ? session.sent("commit") : session.sent("prepare");
    const last = frames[frames.length - 1];
    if (last === undefined) throw new Error(`${this.instanceId} has nothing to answer ${status} to`);
    this.ingest.configAck(session, configAck(Number(last.generation), String(last.nonce), status, reason));
  }

  disconnect(reason = "the agent left"): void {
    const session = this.session;
    if (session === undefined) return;
    session.connected = false;
    this.session = undefined;
    this.ingest.closed(session, reason);
  }

  private sendBatch(firstSeq: number, events: readonly Event[], metrics: Readonly<Record<string, number>>): void {
    const session = this.requireSession();
    const metricDecls = [];
    const metricIds: number[] = [];
    const metricValues: number[] = [];
    for (const [name, value] of Object.entries(metrics)) {
      let id = this.declared.get(name);
      if (id === undefined) {
        id = this.declared.size + 1;
        this.declared.set(name, id);
        metricDecls.push(gauge(id, name));
      }
      metricIds.push(id);
      metricValues.push(value);
    }
    this.ingest.batch(session, batch({ firstSeq, events, metricDecls, metricIds, metricValues }));
  }

  private requireSession(): FakeSession {
    if (this.session === undefined) throw new Error(`${this.instanceId} is not connected`);
    return this.session;
  }
}
