/**
 * Gauges and counters. Only the latest value of each metric matters, so the
 * table keeps one pending value per metric: a newer value replaces an unsent
 * one (counted as coalesced). That is the whole of the agent's backpressure
 * story for metrics: while the link is down or backed up, memory stays one
 * number per metric.
 *
 * Ids are assigned once per metric; the declarations (id -> name, kind, unit)
 * are connection-scoped on the wire, so each new connection declares every id
 * again, in the batch that carries its first sample.
 */
import { FroctalError, type Limits, MetricKind } from "@froctal/protocol";
import { varintLength } from "./signals.js";
import type { Counters } from "./stats.js";

const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
const utf8 = new TextEncoder();

export interface Metric {
  readonly id: number;
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
  /** Bytes its MetricDecl adds to a batch. */
  readonly declSize: number;
  /** The latest value (for a counter, the running total); undefined until the first one. */
  value: number | undefined;
}

/** Bytes one sample adds to a batch, at most: a varint id and a double. */
export const SAMPLE_SIZE = 5 + 8;

export interface Samples {
  readonly decls: { id: number; name: string; kind: MetricKind; unit: string }[];
  readonly ids: number[];
  readonly values: number[];
  readonly bytes: number;
}

export class MetricTable {
  private readonly byName = new Map<string, Metric>();
  /** Metrics with a value not yet written on this connection, in first-set order. */
  private readonly dirty = new Set<Metric>();
  /** Ids declared on the current connection. */
  private readonly declared = new Set<number>();

  constructor(
    private readonly limits: Limits,
    private readonly maxMetrics: number,
    private readonly counters: Counters,
  ) {}

  /** Finds or registers a metric; checks name, kind and unit on first use. */
  metric(name: string, kind: MetricKind, unit = ""): Metric {
    const found = this.byName.get(name);
    if (found) {
      if (found.kind !== kind) {
        const is = found.kind === MetricKind.METRIC_KIND_GAUGE ? "a gauge" : "a counter";
        throw new FroctalError("FROCTAL_E_FRAME_INVALID", `metric ${JSON.stringify(name)} is already ${is}`);
      }
      return found;
    }
    if (typeof name !== "string" || name.length > this.limits.maxNameLength || !NAME.test(name)) {
      throw new FroctalError("FROCTAL_E_FRAME_INVALID", `${JSON.stringify(name)} is not a valid metric name`);
    }
    if (typeof unit !== "string" || unit.length > this.limits.maxNameLength) {
      throw new FroctalError(
        "FROCTAL_E_FRAME_INVALID",
        `the unit of metric ${JSON.stringify(name)} must be a string of at most ${this.limits.maxNameLength} characters`,
      );
    }
    if (this.byName.size >= this.maxMetrics) {
      throw new FroctalError(
        "FROCTAL_E_BUFFER_FULL",
        `the agent already tracks ${this.maxMetrics} metrics, its limit; ${JSON.stringify(name)} was not added`,
        { retryable: false },
      );
    }
    const id = this.byName.size + 1;
    const metric: Metric = { id, name, kind, unit, declSize: declSize(id, name, unit), value: undefined };
    this.byName.set(name, metric);
    return metric;
  }

  set(metric: Metric, value: number): void {
    if (typeof value !== "number" || !Number.isFinite(value)) {
      throw new FroctalError(
        "FROCTAL_E_FRAME_INVALID",
        `metric ${JSON.stringify(metric.name)} must be a finite number, not ${String(value)}`,
      );
    }
    if (this.dirty.has(metric)) this.counters.coalesced++;
    else this.dirty.add(metric);
    metric.value = value;
  }

  /** Metrics with a value waiting to be written. */
  get pending(): number {
    return this.dirty.size;
  }

  /** A new connection: nothing is declared on it, and every known value is sent again (the manager may have restarted). */
  reset(): void {
    this.declared.clear();
    for (const m of this.byName.values()) if (m.value !== undefined) this.dirty.add(m);
  }

  /**
   * Takes pending samples (with the declarations they need) up to `maxSamples`
   * and `budget` bytes, oldest-dirty first. Taken samples count as written.
   */
  take(maxSamples: number, budget: number): Samples {
    const out: Samples = { decls: [], ids: [], values: [], bytes: 0 };
    let bytes = 0;
    for (const m of this.dirty) {
      if (out.ids.length >= maxSamples || out.decls.length >= maxSamples) break;
      const declare = !this.declared.has(m.id);
      const cost = SAMPLE_SIZE + (declare ? m.declSize : 0);
      if (bytes + cost > budget) break;
      bytes += cost;
      if (declare) {
        this.declared.add(m.id);
        out.decls.push({ id: m.id, name: m.name, kind: m.kind, unit: m.unit });
      }
      out.ids.push(m.id);
      out.values.push(m.value!);
      this.dirty.delete(m);
    }
    return { ...out, bytes };
  }
}

/** Exact bytes of a MetricDecl inside a batch (field tag, length, body). */
function declSize(id: number, name: string, unit: string): number {
  // Once per metric, at registration: the allocation does not matter.
  const nameBytes = utf8.encode(name).length;
  const unitBytes = utf8.encode(unit).length;
  const body =
    1 +
    varintLength(id) +
    1 +
    varintLength(nameBytes) +
    nameBytes +
    2 +
    (unitBytes ? 1 + varintLength(unitBytes) + unitBytes : 0);
  return 1 + varintLength(body) + body;
}
