/**
 * The events the agent keeps until the manager acknowledges them. Sequence
 * numbers start at 1 for the agent's stream and are never reused. Held events
 * form one contiguous run of sequence numbers, oldest first; a cursor marks
 * what the current connection has been sent, so a new connection re-sends
 * from just after what the manager says it has applied.
 *
 * Bounded by count and bytes, with an explicit overflow policy (see
 * OverflowPolicy): nothing is lost silently, every eviction and refusal is
 * counted.
 */
import { FroctalError } from "@froctal/protocol";
import type { WireEvent } from "./signals.js";
import type { Counters } from "./stats.js";

/** What happens when an event arrives and the outbox is full. */
export type OverflowPolicy =
  /** The emitting call throws FROCTAL_E_BUFFER_FULL; nothing already queued is lost (stats.rejected). */
  | "reject"
  /** The oldest held event is evicted to make room (stats.dropped); the manager sees a gap in sequence numbers. */
  | "drop-oldest";

export interface Held {
  readonly seq: number;
  readonly event: WireEvent;
  /** Bytes the event adds to a batch frame. */
  readonly size: number;
  /** Given up on (too large for the current manager's frame limit): never sent, released by the next ack past it. */
  skipped: boolean;
}

export interface OutboxLimits {
  readonly maxEvents: number;
  readonly maxBytes: number;
  readonly overflow: OverflowPolicy;
}

export class Outbox {
  private items: Held[] = [];
  private head = 0;
  private nextSeq = 1;
  /** Highest seq written on the current connection. */
  private cursor = 0;
  /** Highest seq ever written, to tell a re-send from a first send. */
  private highestSent = 0;
  private bytes = 0;

  constructor(
    private readonly limits: OutboxLimits,
    private readonly counters: Counters,
  ) {}

  /** Events held (unsent or unacked). */
  get length(): number {
    return this.items.length - this.head;
  }

  /** Events not yet written on the current connection. */
  get unsent(): number {
    const first = this.items[this.head];
    return first ? this.length - Math.max(0, this.cursor + 1 - first.seq) : 0;
  }

  /** Queues an event; returns its sequence number or throws FROCTAL_E_BUFFER_FULL ('reject'). */
  push(event: WireEvent, size: number, what: string): number {
    if (size > this.limits.maxBytes) {
      this.counters.rejected++;
      throw new FroctalError(
        "FROCTAL_E_BUFFER_FULL",
        `${what} is ${size} bytes, more than the whole outbox holds (${this.limits.maxBytes} bytes)`,
        { retryable: false },
      );
    }
    while (this.length >= this.limits.maxEvents || this.bytes + size > this.limits.maxBytes) {
      if (this.limits.overflow === "reject") {
        this.counters.rejected++;
        throw new FroctalError(
          "FROCTAL_E_BUFFER_FULL",
          `the outbox holds ${this.length} events (${this.bytes} bytes), its limit; ${what} was not queued`,
        );
      }
      this.release(1);
      this.counters.dropped++;
    }
    const seq = this.nextSeq++;
    this.items.push({ seq, event, size, skipped: false });
    this.bytes += size;
    this.counters.queued++;
    this.sync();
    return seq;
  }

  /** Cumulative ack: releases every held event with seq <= `seq` (never one not yet written). */
  ack(seq: number): number {
    const upTo = Math.min(seq, this.highestSent);
    let n = 0;
    while (this.head < this.items.length && this.items[this.head]!.seq <= upTo) {
      const item = this.items[this.head]!;
      this.release(1);
      // A skipped event was counted as dropped when it was given up on.
      if (!item.skipped) this.counters.acked++;
      n++;
    }
    return n;
  }

  /** A new connection: the manager has applied up to `ackedSeq`; everything after it is to be (re)sent. */
  resume(ackedSeq: number): void {
    this.ack(ackedSeq);
    const first = this.items[this.head];
    this.cursor = first ? first.seq - 1 : this.nextSeq - 1;
  }

  /** The held events not yet written on this connection, oldest first. */
  *pending(): IterableIterator<Held> {
    const first = this.items[this.head];
    if (!first) return;
    for (let i = this.head + Math.max(0, this.cursor + 1 - first.seq); i < this.items.length; i++) {
      yield this.items[i]!;
    }
  }

  /** Records that every held event up to `seq` was written (or skipped) on this connection. */
  advance(seq: number): void {
    if (seq <= this.cursor) return;
    for (const item of this.pending()) {
      if (item.seq > seq) break;
      if (item.skipped) continue;
      if (item.seq > this.highestSent) this.counters.sent++;
      else this.counters.resent++;
    }
    this.cursor = seq;
    this.highestSent = Math.max(this.highestSent, seq);
  }

  private release(n: number): void {
    for (let i = 0; i < n && this.head < this.items.length; i++) {
      this.bytes -= this.items[this.head]!.size;
      this.head++;
    }
    // Compact once the released prefix dominates, so the array does not grow forever.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    this.sync();
  }

  private sync(): void {
    this.counters.buffered = this.length;
    this.counters.bufferedBytes = this.bytes;
  }
}
