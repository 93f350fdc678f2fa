/**
 * The smallest Ingest that is still honest: it admits the instances it holds
 * tokens for, counts every signal the server hands it, and acknowledges each
 * session's events cumulatively as it takes them (it has no tick to wait for),
 * so agents release their outboxes as they would against the manager. It
 * stores nothing, so the figure is the server's own cost.
 */
import type { AgentSession, Ingest } from "@froctal/manager";

export interface CountingIngest extends Ingest {
  /** Events plus metric samples taken so far. */
  readonly signals: number;
  readonly tokens: Map<string, string>;
}

export function createCountingIngest(): CountingIngest {
  const tokens = new Map<string, string>();
  const seqs = new WeakMap<AgentSession, number>();
  let signals = 0;
  return {
    tokens,
    get signals() {
      return signals;
    },
    admit(hello) {
      return tokens.get(hello.instanceId) === hello.token && hello.token !== ""
        ? { ok: true, ackedSeq: 0 }
        : { ok: false, code: "FROCTAL_E_AUTH", reason: `unknown instance or token: ${hello.instanceId}` };
    },
    opened(session) {
      seqs.set(session, 0);
    },
    batch(session, batch) {
      signals += batch.events.length + batch.metricIds.length;
      let seq = seqs.get(session) ?? 0;
      if (batch.events.length > 0) {
        seq = Math.max(seq, batch.firstSeq + batch.events.length - 1);
        seqs.set(session, seq);
        session.ack(seq);
      }
    },
    configAck() {},
    closed() {},
  };
}
