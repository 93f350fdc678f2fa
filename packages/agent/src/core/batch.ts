/**
 * Cuts the next batch frame from the outbox and the metric table, staying
 * under the session's limits (frame bytes, events per batch, samples per
 * batch) by construction: every event and sample has a known upper bound of
 * the bytes it adds, so a batch is split before it is encoded, never after.
 */
import { encodeAgentFrame, FroctalError } from "@froctal/protocol";
import type { MetricTable } from "./metrics.js";
import type { Held, Outbox } from "./outbox.js";
import { BATCH_OVERHEAD, type WireEvent } from "./signals.js";

export interface BatchLimits {
  readonly maxFrameBytes: number;
  readonly maxBatchEvents: number;
  readonly maxBatchSamples: number;
}

export interface Cut {
  /** The frame; undefined when the cut only gave up on events. */
  readonly bytes: Uint8Array | undefined;
  readonly events: number;
  readonly samples: number;
  /** Events given up on while cutting: each alone is larger than a frame may be. */
  readonly skipped: readonly Held[];
}

/**
 * Takes the next batch. Returns undefined when there is nothing to send,
 * unless `heartbeat` asks for a batch anyway (an empty one tells the manager
 * the agent is alive). Taken events and samples count as written: send the
 * frame, or drop the connection.
 */
export function takeBatch(
  outbox: Outbox,
  metrics: MetricTable,
  limits: BatchLimits,
  nowMs: number,
  heartbeat = false,
): Cut | undefined {
  const budget = limits.maxFrameBytes - BATCH_OVERHEAD;
  const events: WireEvent[] = [];
  const skipped: Held[] = [];
  let firstSeq = 0;
  let lastSeq = 0;
  let used = 0;
  for (const held of outbox.pending()) {
    if (events.length >= limits.maxBatchEvents) break;
    // Sequence numbers in a batch are contiguous: a skipped event ends the batch before it.
    if (held.skipped || held.size > budget) {
      if (events.length > 0) break;
      if (!held.skipped) {
        held.skipped = true;
        skipped.push(held);
      }
      lastSeq = held.seq;
      continue;
    }
    if (used + held.size > budget) break;
    if (events.length === 0) firstSeq = held.seq;
    events.push(held.event);
    used += held.size;
    lastSeq = held.seq;
  }
  if (lastSeq > 0) outbox.advance(lastSeq);
  const samples = metrics.take(limits.maxBatchSamples, budget - used);
  if (events.length === 0 && samples.ids.length === 0 && !heartbeat && skipped.length === 0) return undefined;
  if (events.length === 0 && samples.ids.length === 0 && !heartbeat) {
    return { bytes: undefined, events: 0, samples: 0, skipped };
  }
  const bytes = encodeAgentFrame({
    batch: {
      firstSeq,
      events,
      metricDecls: samples.decls,
      metricIds: samples.ids,
      metricValues: samples.values,
      sentAtMs: Math.floor(nowMs),
    },
  });
  if (bytes.length > limits.maxFrameBytes) {
    // The size bounds above make this unreachable; if they are ever wrong, say so loudly.
    throw new FroctalError(
      "FROCTAL_E_INTERNAL",
      `the agent cut a ${bytes.length}-byte batch for a ${limits.maxFrameBytes}-byte limit`,
    );
  }
  return { bytes, events: events.length, samples: samples.ids.length, skipped };
}
