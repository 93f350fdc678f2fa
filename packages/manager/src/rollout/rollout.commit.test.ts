import { configAck, FakeSession } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { ack, nonceOf, setup } from "../../test/rollout.js";
import { Instance } from "../store/instance.js";
import { describeOutcome } from "./history.js";
import type { Participant } from "./rollout.js";

const _utf8 = new TextDecoder();

describe("Rollout: the commit phase", () => {
  it("records a nack answered in the commit phase: the guest runs what it reports, the reason is kept", () => {
    const { rollout, a, b, both, outcomes } = setup();
    rollout.begin(both('{"v":1}'));
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "prepared", 1);
    const reason = "commit of generation 1 failed, generation 0 still runs: disk full";
    rollout.acknowledge(b.instance, configAck(1, nonceOf(b.instance, 1), "nacked", reason));
    expect(rollout.inFlight).toEqual({
      generation: 1,
      phase: "committing",
      instances: ["a", "b"],
      prepared: ["a", "b"],
      committed: [],
      failed: [{ instance: "b", running: 0, reason }],
    });
    ack(rollout, a.instance, "committed", 1);
    expect(outcomes).toEqual([
      {
        generation: 1,
        result: "committed",
        instances: ["a", "b"],
        results: [
          { instance: "a", result: "committed" },
          { instance: "b", result: "failed", running: 0, reason },
        ],
        at: 0,
      },
    ]);
    expect(describeOutcome(outcomes[0]!)).toBe(
      `generation 1 committed on a; b did not commit it and runs generation 0: ${reason}`,
    );
    // b still runs its old configuration, so the store still says so: it differs from the desired one again.
    expect([a.instance.generation, a.instance.committedJson]).toEqual([1, '{"v":1}']);
    expect([b.instance.generation, b.instance.committedJson]).toEqual([0, '{"v":0}']);
    expect(b.session.sent("abort")).toEqual([]);
  });

  it("re-pushes to an instance whose commit failed, after a backoff that doubles while it keeps failing", () => {
    const { rollout, clock, a, b, both } = setup();
    const failCommit = (gen: number) => {
      ack(rollout, b.instance, "prepared", gen);
      rollout.acknowledge(b.instance, configAck(gen, nonceOf(b.instance, gen), "nacked", "disk full"));
    };
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    failCommit(1);
    ack(rollout, a.instance, "committed", 1);
    expect(rollout.busy).toBe(false);
    const onlyB: Participant[] = [{ party: b.instance, json: "x" }];
    const epoch = rollout.epoch;
    expect(rollout.begin(onlyB)).toBeUndefined();
    clock.advance(1_000);
    expect(rollout.epoch).toBe(epoch + 1);
    expect(rollout.begin(onlyB)).toBe(2);
    expect(b.session.sent("prepare").at(-1)).toMatchObject({ generation: 2 });
    failCommit(2);
    clock.advance(1_999);
    expect(rollout.begin(onlyB)).toBeUndefined();
    clock.advance(1);
    expect(rollout.begin(onlyB)).toBe(3);
    ack(rollout, b.instance, "prepared", 3);
    ack(rollout, b.instance, "committed", 3);
    expect([b.instance.generation, b.instance.committedJson]).toEqual([3, "x"]);
  });

  it("a commit-phase nack reporting another running generation records it, with its configuration unknown", () => {
    const { rollout, a, b, both, outcomes } = setup();
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "prepared", 1);
    ack(rollout, a.instance, "committed", 1);
    rollout.acknowledge(b.instance, {
      ...configAck(1, nonceOf(b.instance, 1), "nacked", "lost"),
      runningGeneration: 4,
    });
    expect([b.instance.generation, b.instance.committedJson]).toEqual([4, ""]);
    expect(outcomes).toMatchObject([{ results: [{ result: "committed" }, { result: "failed", running: 4 }] }]);
  });

  it("says who did not confirm a commit (disconnected or silent), without calling it committed", () => {
    const { rollout, clock, a, b, both, outcomes } = setup();
    const c = { instance: new Instance("c", "router", 3, "t", 0), session: new FakeSession("c", "s") };
    c.instance.moveTo("ready");
    c.instance.recordCommit(0, '{"v":0}');
    c.instance.session = c.session;
    rollout.begin([...both("x"), { party: c.instance, json: "x" }]);
    for (const i of [a.instance, b.instance, c.instance]) ack(rollout, i, "prepared", 1);
    ack(rollout, a.instance, "committed", 1);
    rollout.disconnected(b.instance);
    expect(rollout.inFlight).toMatchObject({ committed: ["a"], failed: [] });
    clock.advance(5_000);
    expect(outcomes).toEqual([
      {
        generation: 1,
        result: "committed",
        instances: ["a", "b", "c"],
        results: [
          { instance: "a", result: "committed" },
          { instance: "b", result: "unconfirmed", reason: "it disconnected after commit went out" },
          { instance: "c", result: "unconfirmed", reason: "it did not confirm within 5000 ms" },
        ],
        at: 5_000,
      },
    ]);
    expect(describeOutcome(outcomes[0]!)).toBe(
      "generation 1 committed on a; b has not confirmed it (it disconnected after commit went out); " +
        "c has not confirmed it (it did not confirm within 5000 ms)",
    );
    expect([b.instance.committedJson, c.instance.committedJson]).toEqual(['{"v":0}', '{"v":0}']);
  });

  it("takes the answer of a participant that disconnected after commit and came back while the generation ran", () => {
    const { rollout, a, b, both, outcomes } = setup();
    rollout.begin(both("x"));
    ack(rollout, a.instance, "prepared", 1);
    ack(rollout, b.instance, "prepared", 1);
    rollout.disconnected(b.instance);
    ack(rollout, b.instance, "committed", 1);
    expect(outcomes).toEqual([]);
    ack(rollout, a.instance, "committed", 1);
    expect(outcomes).toMatchObject([
      {
        results: [
          { instance: "a", result: "committed" },
          { instance: "b", result: "committed" },
        ],
      },
    ]);
    expect([b.instance.generation, b.instance.committedJson]).toEqual([1, "x"]);
  });
});
