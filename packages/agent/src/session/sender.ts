/**
 * The sending half of the agent. Events wait in the outbox until acked,
 * metric values in the table until written; the sender decides when to cut a
 * batch (enough events for a full batch, a short interval, a heartbeat) and
 * whether the connection may take it now (backpressure), and tells close()
 * once everything is delivered.
 */
import type { Clock, Disposer } from "@froctal/primitives";
import { FroctalError, type Limits, type ManagerHello, toFroctalError } from "@froctal/protocol";
import { type BatchLimits, takeBatch } from "../core/batch.js";
import { MetricTable } from "../core/metrics.js";
import { Outbox, type OutboxLimits } from "../core/outbox.js";
import { measureEvent, type WireEvent } from "../core/signals.js";
import type { Counters } from "../core/stats.js";

/** What the sender needs of the connection. */
export interface Wire {
  /** Bytes queued on the connection, not yet handed to the operating system. */
  readonly bufferedAmount: number;
  /** Writes one frame on the open session; false when there is none. */
  sendBytes(bytes: Uint8Array): boolean;
}

export interface SenderOptions {
  /** Bound of the outbox. */
  readonly buffer: OutboxLimits;
  /** The agent's own limits: what it checks signals against and stays under. */
  readonly limits: Limits;
  readonly maxMetrics: number;
  /** Bytes queued on the connection above which nothing more is written (gauges coalesce). */
  readonly highWaterMark: number;
  readonly flushIntervalMs: number;
  /** now() times heartbeats; wallNow() stamps each batch's sent_at_ms. */
  readonly clock: Clock;
}

export class Sender {
  readonly outbox: Outbox;
  readonly metrics: MetricTable;
  /** The open session's limits; undefined while there is none. */
  private limits: BatchLimits | undefined;
  private flushTimer: Disposer | undefined;
  private heartbeatTimer: Disposer | undefined;
  // Never written: the first heartbeat tick is due, whatever the clock's origin.
  private lastWriteAt = Number.NEGATIVE_INFINITY;
  private abandoned = false;
  private readonly settleWaiters = new Set<() => void>();

  constructor(
    private readonly o: SenderOptions,
    private readonly wire: Wire,
    private readonly counters: Counters,
    private readonly report: (error: FroctalError) => void,
  ) {
    this.outbox = new Outbox(o.buffer, counters);
    this.metrics = new MetricTable(o.limits, o.maxMetrics, counters);
  }

  /** The limits a new event is checked against: the session's frame size once the manager has said it. */
  get eventLimits(): Limits {
    return this.limits ? { ...this.o.limits, maxFrameBytes: this.limits.maxFrameBytes } : this.o.limits;
  }

  /** A session opened: re-send past what the manager has applied, re-declare metrics, write. */
  open(hello: ManagerHello): void {
    const own = this.o.limits;
    this.limits = {
      maxFrameBytes: Math.min(own.maxFrameBytes, hello.maxFrameBytes || own.maxFrameBytes),
      maxBatchEvents: Math.min(own.maxBatchEvents, hello.maxBatchEvents || own.maxBatchEvents),
      maxBatchSamples: own.maxBatchSamples,
    };
    this.outbox.resume(hello.ackedSeq);
    this.metrics.reset();
    this.armHeartbeat(hello.heartbeatMs);
    this.flush();
  }

  /** The session ended: hold everything until the next one. */
  pause(): void {
    this.limits = undefined;
    this.cancelFlush();
    this.stopHeartbeat();
  }

  /** No session will come again: stop, and let close() stop waiting. */
  abandon(): void {
    this.abandoned = true;
    this.pause();
    this.checkSettled();
  }

  /** Queues an event (checked against the contract and the limits); returns its sequence number. */
  enqueue(event: WireEvent, what: string): number {
    const seq = this.outbox.push(event, measureEvent(event, this.eventLimits), what);
    if (this.limits && this.outbox.unsent >= this.limits.maxBatchEvents) this.flush();
    else this.soon();
    return seq;
  }

  /** Something is pending: flush within flushIntervalMs. */
  soon(): void {
    if (this.flushTimer || !this.limits) return;
    this.flushTimer = this.o.clock.setTimeout(() => {
      this.flushTimer = undefined;
      this.flush();
    }, this.o.flushIntervalMs);
  }

  ack(seq: number): void {
    this.outbox.ack(seq);
    this.checkSettled();
  }

  /** A frame went out (any frame: the heartbeat only fills silence). */
  wrote(): void {
    this.lastWriteAt = this.o.clock.now();
  }

  /** Writes batches until nothing is pending or the connection is backed up. */
  flush(heartbeat = false): void {
    this.cancelFlush();
    const limits = this.limits;
    if (!limits) return;
    try {
      for (;;) {
        if (this.wire.bufferedAmount > this.o.highWaterMark) {
          // Backed up: events stay in the outbox, gauges coalesce; look again shortly.
          this.counters.backpressured++;
          this.soon();
          break;
        }
        const cut = takeBatch(this.outbox, this.metrics, limits, this.o.clock.wallNow(), heartbeat);
        heartbeat = false;
        if (!cut) break;
        for (const held of cut.skipped) {
          this.counters.dropped++;
          const sentence = `event ${held.seq} (${held.size} bytes) does not fit the manager's ${limits.maxFrameBytes}-byte frames; dropped`;
          this.report(new FroctalError("FROCTAL_E_FRAME_TOO_LARGE", sentence));
        }
        if (cut.bytes && !this.wire.sendBytes(cut.bytes)) break;
        this.counters.samples += cut.samples;
      }
    } catch (err) {
      this.report(toFroctalError(err));
    }
    this.checkSettled();
  }

  /** Resolves true once every event is acked and every sample written (or no session can come), false after `ms`. */
  whenSettled(ms: number): Promise<boolean> {
    if (this.settled) return Promise.resolve(true);
    return new Promise((resolve) => {
      const finish = (settled: boolean) => {
        cancel();
        this.settleWaiters.delete(waiter);
        resolve(settled);
      };
      const waiter = () => {
        if (this.settled) finish(true);
      };
      const cancel = this.o.clock.setTimeout(() => finish(false), ms);
      this.settleWaiters.add(waiter);
    });
  }

  private get settled(): boolean {
    return this.abandoned || (this.outbox.length === 0 && this.metrics.pending === 0);
  }

  private checkSettled(): void {
    for (const waiter of [...this.settleWaiters]) waiter();
  }

  private cancelFlush(): void {
    this.flushTimer?.();
    this.flushTimer = undefined;
  }

  /** The manager expects to hear from the agent every heartbeat_ms: an empty batch fills silence. */
  private armHeartbeat(heartbeatMs: number): void {
    this.stopHeartbeat();
    if (!heartbeatMs) return;
    const every = Math.max(1, Math.floor(heartbeatMs / 2));
    const tick = () => {
      if (this.o.clock.now() - this.lastWriteAt >= every) this.flush(true);
      this.heartbeatTimer = this.o.clock.setTimeout(tick, every);
    };
    this.heartbeatTimer = this.o.clock.setTimeout(tick, every);
  }

  private stopHeartbeat(): void {
    this.heartbeatTimer?.();
    this.heartbeatTimer = undefined;
  }
}
