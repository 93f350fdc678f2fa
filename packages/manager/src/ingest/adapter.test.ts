import { app, batch, configAck, FakeSession, gauge, hello } from "@froctal/testkit";
import { runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { defineFleet } from "../policy/fleet.js";
import { FleetStore } from "../store/store.js";
import type { TickInput } from "../tick/input.js";
import { IngestAdapter, MAX_METRICS_PER_INSTANCE } from "./adapter.js";

const fleet = defineFleet({ name: "f", services: { web: { image: "web.js", replicas: 1 } } });

function setup() {
  const store = new FleetStore(fleet);
  const signals: TickInput[] = [];
  const ingest = new IngestAdapter(store, (s) => signals.push(s));
  ingest.open = true;
  const instance = runInAction(() => store.add(store.service("web"), "secret", 0));
  const open = (streamId = "s1") => {
    const h = hello({ instanceId: instance.id, token: "secret", streamId });
    const admission = ingest.admit(h, {});
    if (!admission.ok) throw new Error(admission.reason);
    const session = new FakeSession(instance.id, streamId);
    ingest.opened(session, h);
    return { session, admission };
  };
  /** What the manager's tick does for the ingest: tells it of each batch input applied since the last tick. */
  let ticked = 0;
  const tick = () => {
    for (const s of signals.slice(ticked)) if (s.kind === "batch") ingest.applied(s);
    ticked = signals.length;
  };
  return { store, signals, ingest, instance, open, tick };
}

const kinds = (signals: TickInput[]) => signals.map((s) => s.kind);

describe("IngestAdapter.admit", () => {
  it("asks every hello to come back while the manager starts, before it knows its own guests", () => {
    const { ingest, instance } = setup();
    ingest.open = false;
    const admission = ingest.admit(hello({ instanceId: instance.id, token: "secret", streamId: "s1" }), {});
    expect(admission).toEqual({
      ok: false,
      code: "FROCTAL_E_STARTING",
      reason: "the manager is starting; try again in a moment",
    });
    expect(ingest.stats.refused).toBe(1);
    ingest.open = true;
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret", streamId: "s1" }), {}).ok).toBe(true);
  });

  it("admits the token the instance was launched with", () => {
    const { ingest, instance } = setup();
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret" }), {})).toEqual({ ok: true, ackedSeq: 0 });
    expect(ingest.stats.admitted).toBe(1);
  });

  it("refuses a wrong, longer, shorter or empty token, and an unknown instance", () => {
    const { ingest, instance } = setup();
    for (const token of ["secreT", "secret2", "secre", ""]) {
      expect(ingest.admit(hello({ instanceId: instance.id, token }), {})).toEqual({
        ok: false,
        code: "FROCTAL_E_AUTH",
        reason: `the token presented for ${instance.id} is not the one it was launched with`,
      });
    }
    expect(ingest.admit(hello({ instanceId: "web-99", token: "secret" }), {})).toMatchObject({
      ok: false,
      code: "FROCTAL_E_AUTH",
      reason: "no instance web-99 is running in this fleet",
    });
    expect(ingest.stats).toMatchObject({ admitted: 0, refused: 5 });
  });

  it("refuses every token for an instance launched without one", () => {
    const { store, ingest } = setup();
    const bare = runInAction(() => store.add(store.service("web"), "", 0));
    expect(ingest.admit(hello({ instanceId: bare.id, token: "" }), {}).ok).toBe(false);
  });

  it("lets a per-instance channel prove identity by construction, and only its own", () => {
    const { ingest, instance } = setup();
    expect(ingest.admit(hello({ instanceId: instance.id, token: "" }), { instanceId: instance.id })).toMatchObject({
      ok: true,
    });
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret" }), { instanceId: "web-7" })).toMatchObject({
      ok: false,
      reason: `the channel belongs to web-7, not ${instance.id}`,
    });
  });

  it("tells a reconnecting agent how far its stream was applied; a new stream starts from 0", () => {
    const { ingest, instance, open, tick } = setup();
    const { session } = open("s1");
    ingest.batch(session, batch({ firstSeq: 1, events: [app("a", 1), app("a", 2)] }));
    tick();
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret", streamId: "s1" }), {})).toEqual({
      ok: true,
      ackedSeq: 2,
    });
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret", streamId: "s2" }), {})).toEqual({
      ok: true,
      ackedSeq: 0,
    });
  });
});

describe("IngestAdapter sessions and batches", () => {
  it("opens a session and queues the opened signal", () => {
    const { signals, instance, open } = setup();
    const { session } = open();
    expect(instance.session).toBe(session);
    expect(signals).toMatchObject([{ kind: "opened", instance, session }]);
  });

  it("maps the session's metric ids to the service's aggregates and counts undeclared samples", () => {
    const { store, signals, ingest, open } = setup();
    const { session } = open();
    ingest.batch(
      session,
      batch({ metricDecls: [gauge(1, "load"), gauge(2, "rps")], metricIds: [1, 2, 3], metricValues: [1, 2, 3] }),
    );
    const s = signals[1]!;
    expect(s.kind).toBe("batch");
    if (s.kind !== "batch") return;
    expect(s.table[1]?.aggregate).toBe(store.service("web").metric("load"));
    expect(s.table[2]?.aggregate).toBe(store.service("web").metric("rps"));
    expect(ingest.stats).toMatchObject({ batches: 1, samples: 3, undeclared: 1 });
  });

  it("keeps a metric table per session: a new session must declare again", () => {
    const { signals, ingest, open } = setup();
    const first = open().session;
    ingest.batch(first, batch({ metricDecls: [gauge(1, "load")], metricIds: [1], metricValues: [1] }));
    const second = open().session;
    ingest.batch(second, batch({ metricIds: [1], metricValues: [1] }));
    expect(ingest.stats.undeclared).toBe(1);
    const last = signals[signals.length - 1]!;
    expect(last.kind === "batch" && last.table.filter(Boolean).length).toBe(0);
  });

  it("takes each event seq once: re-sent events are skipped and counted as duplicates", () => {
    const { signals, ingest, open, tick } = setup();
    const { session } = open();
    ingest.batch(session, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2)] }));
    ingest.batch(session, batch({ firstSeq: 2, events: [app("n", 2), app("n", 3)] }));
    ingest.batch(session, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2), app("n", 3)] }));
    tick();
    expect(session.acks).toEqual([2, 3]);
    const batches = signals.filter((s) => s.kind === "batch");
    expect(batches.map((s) => s.kind === "batch" && [s.batch.firstSeq, s.skip])).toEqual([
      [1, 0],
      [2, 1],
    ]);
    expect(ingest.stats).toMatchObject({ events: 3, duplicates: 4 });
  });

  it("passes samples of an all-duplicate batch on, without its events", () => {
    const { signals, ingest, open } = setup();
    const { session } = open();
    ingest.batch(session, batch({ firstSeq: 1, events: [app("n", 1)] }));
    ingest.batch(
      session,
      batch({ firstSeq: 1, events: [app("n", 1)], metricDecls: [gauge(1, "load")], metricIds: [1], metricValues: [5] }),
    );
    const last = signals[signals.length - 1]!;
    expect(last.kind === "batch" && last.skip).toBe(1);
  });

  it("carries the stream's position across reconnects with the same stream id, and resets it for a new one", () => {
    const { ingest, instance, open, tick } = setup();
    const first = open("s1").session;
    ingest.batch(first, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2)] }));
    tick();
    const { session: again, admission } = open("s1");
    expect(admission).toEqual({ ok: true, ackedSeq: 2 });
    ingest.batch(again, batch({ firstSeq: 2, events: [app("n", 2), app("n", 3)] }));
    tick();
    expect(again.acks).toEqual([3]);
    expect(ingest.stats.duplicates).toBe(1);
    open("s2");
    expect([instance.streamId, instance.acceptedSeq]).toEqual(["s2", 0]);
  });

  it("ignores batches, acks and closes from a session that was replaced", () => {
    const { signals, ingest, instance, open } = setup();
    const old = open().session;
    const current = open().session;
    const before = signals.length;
    ingest.batch(old, batch({ firstSeq: 1, events: [app("n", 1)] }));
    ingest.configAck(old, configAck(1, "g1", "prepared"));
    ingest.closed(old, "gone");
    expect(signals.length).toBe(before);
    expect(instance.session).toBe(current);
    ingest.configAck(current, configAck(1, "g1", "prepared"));
    ingest.closed(current, "left");
    expect(kinds(signals.slice(before))).toEqual(["configAck", "closed"]);
    expect(instance.session).toBeUndefined();
  });

  it("ignores sessions of instances that are gone", () => {
    const { store, signals, ingest, instance, open } = setup();
    const { session } = open();
    runInAction(() => store.remove(instance));
    const before = signals.length;
    ingest.batch(session, batch({ events: [app("n", 1)] }));
    ingest.closed(session, "x");
    expect(signals.length).toBe(before);
  });
});

describe("IngestAdapter limits", () => {
  it("bounds the distinct metric names one instance may declare, counting what it ignores", () => {
    const { ingest, open } = setup();
    const { session } = open();
    const decls = Array.from({ length: MAX_METRICS_PER_INSTANCE + 5 }, (_, i) => gauge(i + 1, `m${i}`));
    ingest.batch(session, batch({ metricDecls: decls }));
    expect(ingest.stats.overLimit).toBe(5);
    // A name it already has may still be declared again (a new session re-declares everything).
    ingest.batch(session, batch({ metricDecls: [gauge(9999, "m0")], metricIds: [9999], metricValues: [1] }));
    expect(ingest.stats.overLimit).toBe(5);
    expect(ingest.stats.undeclared).toBe(0);
  });
});

describe("IngestAdapter acknowledgements: only what a tick applied", () => {
  it("acknowledges events once the tick has applied them, not when they are queued", () => {
    const { ingest, instance, open, tick } = setup();
    const { session } = open();
    ingest.batch(session, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2)] }));
    expect(session.acks).toEqual([]);
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret", streamId: "s1" }), {})).toEqual({
      ok: true,
      ackedSeq: 0,
    });
    tick();
    expect(session.acks).toEqual([2]);
    expect(ingest.position(instance)).toEqual({ streamId: "s1", queued: 2, applied: 2 });
  });

  it("acknowledges nothing of a batch whose tick never ran (a runaway stopped the ticker)", () => {
    const { ingest, instance, open } = setup();
    const { session } = open();
    ingest.batch(session, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2)] }));
    ingest.closed(session, "the manager stopped");
    // The agent keeps both events: a manager started anew takes them from the hello's acked seq on.
    expect(session.acks).toEqual([]);
    expect(ingest.admit(hello({ instanceId: instance.id, token: "secret", streamId: "s1" }), {})).toEqual({
      ok: true,
      ackedSeq: 0,
    });
  });

  it("acknowledges events still queued when their agent reconnected to its new session, once applied", () => {
    const { signals, ingest, open, tick } = setup();
    const first = open().session;
    ingest.batch(first, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2)] }));
    const { session: again, admission } = open();
    expect(admission).toEqual({ ok: true, ackedSeq: 0 });
    // The agent re-sends from its acked seq: the events are queued already, so they are duplicates.
    ingest.batch(again, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2)] }));
    expect(ingest.stats).toMatchObject({ events: 2, duplicates: 2 });
    expect(kinds(signals)).toEqual(["opened", "batch", "opened"]);
    tick();
    expect([first.acks, again.acks]).toEqual([[], [2]]);
  });

  it("never acknowledges a replaced stream's queued events on the new stream", () => {
    const { ingest, instance, open, tick } = setup();
    const old = open("s1").session;
    ingest.batch(old, batch({ firstSeq: 1, events: [app("n", 1), app("n", 2), app("n", 3)] }));
    const fresh = open("s2").session;
    ingest.batch(fresh, batch({ firstSeq: 1, events: [app("m", 1)] }));
    tick();
    expect([old.acks, fresh.acks]).toEqual([[], [1]]);
    expect(ingest.position(instance)).toEqual({ streamId: "s2", queued: 1, applied: 1 });
  });

  it("acknowledges cumulatively, in the order batches were queued, and never goes back", () => {
    const { signals, ingest, open } = setup();
    const { session } = open();
    ingest.batch(session, batch({ firstSeq: 1, events: [app("n", 1)] }));
    ingest.batch(session, batch({ firstSeq: 2, events: [app("n", 2), app("n", 3)] }));
    ingest.batch(session, batch({ metricDecls: [gauge(1, "load")], metricIds: [1], metricValues: [1] }));
    const [, first, second, samples] = signals;
    if (first?.kind !== "batch" || second?.kind !== "batch" || samples?.kind !== "batch") throw new Error("no batches");
    ingest.applied(first);
    ingest.applied(samples);
    ingest.applied(second);
    ingest.applied(first);
    expect(session.acks).toEqual([1, 3]);
  });
});
