import { type ConfigAck, ConfigAckStatus } from "@froctal/protocol";
import { configAck } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { ack, configureGuest, nonceOf, setup } from "../../test/rollout.js";
import { Rollout, type RolloutOutcome } from "./rollout.js";

const utf8 = new TextDecoder();

describe("Rollout", () => {
  it("starts nothing for no participants", () => {
    const { rollout } = setup();
    expect(rollout.begin([])).toBeUndefined();
    expect(rollout.busy).toBe(false);
  });

  it("prepares every participant with one generation, and commits only when all prepared", () => {
    const { rollout, a, b, both, outcomes } = setup(6);
    expect(rollout.begin(both('{"v":1}'))).toBe(7);
    expect(rollout.busy).toBe(true);
    for (const s of [a.session, b.session]) {
      const [prepare] = s.sent("prepare");
      expect(prepare).toMatchObject({ generation: 7, mediaType: "application/json", timeoutMs: 5_000 });
      expect(utf8.decode(prepare!.config as Uint8Array)).toBe('{"v":1}');
    }
    ack(rollout, a.instance, "prepared", 7);
    expect(a.session.sent("commit")).toEqual([]);
    expect(rollout.inFlight).toEqual({
      generation: 7,
      phase: "preparing",
      instances: ["a", "b"],
      prepared: ["a"],
      committed: [],
      failed: [],
    });
    ack(rollout, a.instance, "prepared", 7); // a repeat changes nothing
    expect(b.session.sent("commit")).toEqual([]);
    ack(rollout, b.instance, "prepared", 7);
    expect(a.session.sent("commit")).toEqual([{ generation: 7, nonce: nonceOf(a.instance, 7) }]);
    expect(b.session.sent("commit")).toEqual([{ generation: 7, nonce: nonceOf(b.instance, 7) }]);

    const epoch = rollout.epoch;
    ack(rollout, a.instance, "committed", 7);
    expect([a.instance.committedJson, a.instance.generation]).toEqual(['{"v":1}', 7]);
    expect(outcomes).toEqual([]);
    ack(rollout, b.instance, "committed", 7);
    expect(b.instance.committedJson).toBe('{"v":1}');
    expect(outcomes).toEqual([
      {
        generation: 7,
        result: "committed",
        instances: ["a", "b"],
        results: [
          { instance: "a", result: "committed" },
          { instance: "b", result: "committed" },
        ],
        at: 0,
      },
    ]);
    expect(rollout.busy).toBe(false);
    expect(rollout.inFlight).toBeUndefined();
    expect(rollout.epoch).toBe(epoch + 1);
    expect(rollout.lastGeneration).toBe(7);
  });

  it("counts outcomes, and times each generation from prepare to its outcome, for /metrics", () => {
    const { rollout, a, b, both, clock } = setup();
    expect(rollout.stats).toEqual({ committed: 0, aborted: 0, lastDurationMs: 0 });
    rollout.begin(both('{"v":1}'));
    clock.advance(120);
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "prepared", 1);
    clock.advance(30);
    ack(rollout, a.instance, "committed", 1);
    ack(rollout, b.instance, "committed", 1);
    expect(rollout.stats).toEqual({ committed: 1, aborted: 0, lastDurationMs: 150 });
    rollout.begin(both('{"v":2}'));
    clock.advance(40);
    ack(rollout, b.instance, "nacked", 2, "port in use");
    expect(rollout.stats).toEqual({ committed: 1, aborted: 1, lastDurationMs: 40 });
  });

  it("aborts everywhere on a nack; everyone keeps the configuration they had", () => {
    const { rollout, a, b, both, outcomes } = setup();
    rollout.begin(both('{"v":1}'));
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "nacked", 1, "port in use");
    for (const { instance, session } of [a, b]) {
      expect(session.sent("commit")).toEqual([]);
      expect(session.sent("abort")).toEqual([
        { generation: 1, nonce: nonceOf(instance, 1), reason: "b refused generation 1: port in use" },
      ]);
    }
    expect(outcomes).toMatchObject([
      { generation: 1, result: "aborted", instances: ["a", "b"], reason: /port in use/ },
    ]);
    expect([a.instance.committedJson, b.instance.committedJson]).toEqual(['{"v":0}', '{"v":0}']);
    expect(rollout.busy).toBe(false);
  });

  it("retries the same aborted change only after a backoff that doubles, bumping the epoch when it is due", () => {
    const { rollout, clock, b, both } = setup();
    const nack = (gen: number) => ack(rollout, b.instance, "nacked", gen);
    expect(rollout.begin(both("x"))).toBe(1);
    nack(1);
    const epoch = rollout.epoch;
    expect(rollout.begin(both("x"))).toBeUndefined();
    clock.advance(999);
    expect(rollout.epoch).toBe(epoch);
    clock.advance(1);
    expect(rollout.epoch).toBe(epoch + 1);
    expect(rollout.begin(both("x"))).toBe(2);
    nack(2);
    clock.advance(1_999);
    expect(rollout.begin(both("x"))).toBeUndefined();
    clock.advance(1);
    expect(rollout.begin(both("x"))).toBe(3);
  });

  it("does not hold back a different change after an abort", () => {
    const { rollout, b, both } = setup();
    rollout.begin(both("x"));
    ack(rollout, b.instance, "nacked", 1);
    expect(rollout.begin(both("y"))).toBe(2);
  });

  it("starts no second generation while one is in flight", () => {
    const { rollout, a, both } = setup();
    expect(rollout.begin(both("x"))).toBe(1);
    expect(rollout.begin(both("y"))).toBeUndefined();
    expect(a.session.sent("prepare")).toHaveLength(1);
  });

  it("ignores answers with a stale nonce or generation, from a non-participant, or with an unknown status", () => {
    const { rollout, a, b, outcomes } = setup();
    rollout.begin([{ party: a.instance, json: "x" }]);
    rollout.acknowledge(a.instance, { ...configAck(1, "g0", "nacked") });
    rollout.acknowledge(a.instance, { ...configAck(0, nonceOf(a.instance, 1), "nacked") });
    rollout.acknowledge(b.instance, configAck(1, nonceOf(a.instance, 1), "nacked"));
    const unknown: ConfigAck = {
      ...configAck(1, nonceOf(a.instance, 1), "prepared"),
      status: ConfigAckStatus.CONFIG_ACK_STATUS_ABORTED,
    };
    rollout.acknowledge(a.instance, unknown);
    expect(outcomes).toEqual([]);
    expect(rollout.busy).toBe(true);
  });

  it("aborts at once when a participant cannot be reached", () => {
    const { rollout, a, b, both, outcomes } = setup();
    b.session.connected = false;
    expect(rollout.begin(both("x"))).toBe(1);
    expect(a.session.sent("abort")).toHaveLength(1);
    expect(outcomes).toMatchObject([{ result: "aborted", reason: "b could not be reached" }]);
    b.instance.session = undefined;
    rollout.begin(both("y"));
    expect(outcomes[1]).toMatchObject({ result: "aborted", reason: "b could not be reached" });
  });

  it("aborts when a participant does not prepare in time", () => {
    const { rollout, clock, a, both, outcomes } = setup();
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    clock.advance(5_000);
    expect(outcomes).toMatchObject([{ result: "aborted", reason: "b did not answer within 5000 ms", at: 5_000 }]);
    expect(a.session.sent("abort")).toHaveLength(1);
  });

  it("aborts when a participant disconnects before it prepared", () => {
    const { rollout, a, b, both, outcomes } = setup();
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    rollout.disconnected(b.instance);
    expect(outcomes).toMatchObject([{ result: "aborted", reason: "b disconnected before it prepared" }]);
  });

  it("once commit went out, the generation stands: a timeout or disconnect finishes it", () => {
    const { rollout, clock, a, b, both, outcomes } = setup();
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "prepared", 1);
    ack(rollout, a.instance, "committed", 1);
    rollout.disconnected(b.instance);
    expect(outcomes).toMatchObject([{ generation: 1, result: "committed" }]);
    // b did not confirm: it keeps its old committedJson and is offered the change again when it is back.
    expect(b.instance.committedJson).toBe('{"v":0}');

    rollout.begin(both("y"));
    ack(rollout, a.instance, "prepared", 2);
    ack(rollout, b.instance, "prepared", 2);
    ack(rollout, b.instance, "nacked", 2);
    clock.advance(5_000);
    expect(outcomes.map((o) => o.result)).toEqual(["committed", "committed"]);
    expect(b.session.sent("abort")).toEqual([]);
  });

  it("a commit confirmed after its generation ended marks that configuration unknown, so it is offered again", () => {
    const { rollout, clock, a, b, both, outcomes } = setup();
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "prepared", 1);
    ack(rollout, a.instance, "committed", 1);
    clock.advance(5_000);
    expect(outcomes).toMatchObject([{ generation: 1, result: "committed" }]);
    expect([b.instance.generation, b.instance.committedJson]).toEqual([0, '{"v":0}']);
    // b applies generation 1 now: it no longer runs what the store says, and the store knows it does not know.
    ack(rollout, b.instance, "committed", 1);
    expect([b.instance.generation, b.instance.committedJson]).toEqual([1, ""]);
    // Other stale answers, and a commit of a generation no newer than the recorded one, change nothing.
    ack(rollout, a.instance, "committed", 1);
    ack(rollout, b.instance, "prepared", 1);
    expect([a.instance.generation, a.instance.committedJson]).toEqual([1, "x"]);
    expect(outcomes).toHaveLength(1);
  });

  it("close cancels its timers", () => {
    const { rollout, clock, b, both } = setup();
    rollout.begin(both("x"));
    rollout.close();
    rollout.begin(both("y"));
    ack(rollout, b.instance, "nacked", 2);
    rollout.close();
    expect(clock.pending).toBe(0);
  });

  it("gives every push its own nonce, so an answer to an earlier push of the same generation is ignored", () => {
    const { rollout, clock, a, b, both } = setup();
    rollout.begin(both('{"v":1}'));
    const first = { a: nonceOf(a.instance, 1), b: nonceOf(b.instance, 1) };
    expect(first.a).not.toBe(first.b);
    rollout.close();
    // A manager restarted without its reservation hands generation 1 out again, with another configuration.
    const outcomes: RolloutOutcome[] = [];
    const again = new Rollout({
      clock,
      timeoutMs: 5_000,
      lastGeneration: 0,
      onOutcome: (o) => outcomes.push(o),
      configure: configureGuest,
    });
    expect(again.begin(both('{"v":2}'))).toBe(1);
    expect([nonceOf(a.instance, 1), nonceOf(b.instance, 1)]).not.toContain(first.a);
    expect([nonceOf(a.instance, 1), nonceOf(b.instance, 1)]).not.toContain(first.b);
    // Answers to the first push (a validated {"v":1}, not {"v":2}) arrive late: they count for nothing.
    again.acknowledge(a.instance, configAck(1, first.a, "prepared"));
    again.acknowledge(b.instance, configAck(1, first.b, "nacked", "stale"));
    expect(again.inFlight).toMatchObject({ phase: "preparing", prepared: [] });
    expect(a.session.sent("commit")).toEqual([]);
    ack(again, a.instance, "prepared", 1);
    ack(again, b.instance, "prepared", 1);
    expect(a.session.sent("commit")).toEqual([{ generation: 1, nonce: nonceOf(a.instance, 1) }]);
    ack(again, a.instance, "committed", 1);
    ack(again, b.instance, "committed", 1);
    expect(outcomes).toMatchObject([{ generation: 1, result: "committed" }]);
    expect([a.instance.committedJson, b.instance.committedJson]).toEqual(['{"v":2}', '{"v":2}']);
  });
});
