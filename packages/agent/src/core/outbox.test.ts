import { FroctalError } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { Outbox, type OutboxLimits } from "./outbox.js";
import { appEvent } from "./signals.js";
import { createCounters } from "./stats.js";

const ev = (n: number) => appEvent(0, "e", n);

function filled(count: number, limits: OutboxLimits = { maxEvents: 100, maxBytes: 1 << 20, overflow: "reject" }) {
  const counters = createCounters();
  const outbox = new Outbox(limits, counters);
  for (let i = 0; i < count; i++) outbox.push(ev(i), 10, `event ${i}`);
  return { outbox, counters };
}

const seqs = (outbox: Outbox) => [...outbox.pending()].map((h) => h.seq);

describe("Outbox", () => {
  it("numbers events from 1 and keeps them until acked", () => {
    const { outbox, counters } = filled(5);
    expect(seqs(outbox)).toEqual([1, 2, 3, 4, 5]);
    outbox.advance(5);
    expect(counters.sent).toBe(5);
    expect(outbox.ack(3)).toBe(3);
    expect(outbox.length).toBe(2);
    expect(counters).toMatchObject({ queued: 5, acked: 3, buffered: 2, bufferedBytes: 20 });
  });

  it("never releases an event it has not sent, whatever the ack says", () => {
    const { outbox } = filled(4);
    outbox.advance(2);
    expect(outbox.ack(99)).toBe(2);
    expect(seqs(outbox)).toEqual([3, 4]);
  });

  it("re-sends after a reconnect from just past what the manager applied", () => {
    const { outbox, counters } = filled(6);
    outbox.advance(6);
    outbox.ack(2);
    outbox.resume(4); // the manager applied 3 and 4 but the ack was lost with the connection
    expect(seqs(outbox)).toEqual([5, 6]);
    expect(outbox.unsent).toBe(2);
    outbox.advance(6);
    expect(counters).toMatchObject({ sent: 6, resent: 2, acked: 4 });
  });

  it("'reject' refuses the new event when full, and counts it", () => {
    const { outbox, counters } = filled(3, { maxEvents: 3, maxBytes: 1 << 20, overflow: "reject" });
    let error: unknown;
    try {
      outbox.push(ev(9), 10, "event 9");
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FroctalError);
    expect((error as FroctalError).code).toBe("FROCTAL_E_BUFFER_FULL");
    expect(counters.rejected).toBe(1);
    expect(seqs(outbox)).toEqual([1, 2, 3]);
  });

  it("'drop-oldest' evicts the oldest to make room, and counts it", () => {
    const { outbox, counters } = filled(3, { maxEvents: 3, maxBytes: 1 << 20, overflow: "drop-oldest" });
    expect(outbox.push(ev(9), 10, "event 9")).toBe(4);
    expect(seqs(outbox)).toEqual([2, 3, 4]);
    expect(counters).toMatchObject({ dropped: 1, rejected: 0 });
  });

  it("bounds bytes as well as events", () => {
    const { outbox, counters } = filled(2, { maxEvents: 100, maxBytes: 25, overflow: "drop-oldest" });
    outbox.push(ev(2), 10, "event 2");
    expect(seqs(outbox)).toEqual([2, 3]);
    expect(counters.dropped).toBe(1);
    expect(() => outbox.push(ev(3), 26, "a huge event")).toThrow(/more than the whole outbox/);
  });

  it("stays compact over a long run", () => {
    const { outbox } = filled(0);
    for (let i = 0; i < 5000; i++) {
      outbox.push(ev(i), 10, "e");
      outbox.advance(i + 1);
      outbox.ack(i + 1);
    }
    expect(outbox.length).toBe(0);
    expect((outbox as unknown as { items: unknown[] }).items.length).toBeLessThan(2100);
  });
});
