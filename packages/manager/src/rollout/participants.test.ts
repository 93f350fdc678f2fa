import { app, type FakeAgent } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import type { Harness } from "../../test/harness.js";
import { json, prepares, twoRoutersRunning } from "../../test/routers.js";

describe("Manager: configuration rollout", () => {
  /** The nonce of the latest prepare pushed to a guest. */
  const nonceOf = (a: FakeAgent) => a.session!.sent("prepare").at(-1)!.nonce;

  async function answerAll(h: Harness, agents: FakeAgent[], status: "prepared" | "committed") {
    for (const a of agents) a.answer(status);
    await h.settle();
  }

  it("commits only once every participant prepared", async () => {
    const { h, r1, r2, i1 } = await twoRoutersRunning();
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    expect(prepares(r1).at(-1)).toEqual({ generation: g, config: json("fast", "router-1") });
    expect(prepares(r2).at(-1)).toEqual({ generation: g, config: json("fast", "router-2") });

    r1.answer("prepared");
    await h.elapse(1_000);
    expect(r1.session!.sent("commit").filter((c) => c.generation === g)).toEqual([]);
    expect(i1.committedJson).toBe(json("base", "router-1"));

    r2.answer("prepared");
    await h.settle();
    // Each commit carries the nonce of the prepare pushed to that guest.
    expect(r1.session!.sent("commit").at(-1)).toEqual({ generation: g, nonce: nonceOf(r1) });
    expect(r2.session!.sent("commit").at(-1)).toEqual({ generation: g, nonce: nonceOf(r2) });
    await answerAll(h, [r1, r2], "committed");
    expect(i1.committedJson).toBe(json("fast", "router-1"));
    expect(h.manager.status().generation).toBe(g);
    expect(h.journal.at(-1)).toMatchObject({
      kind: "rollout",
      message: `generation ${g} committed on router-1, router-2`,
    });
    expect(h.manager.status().rollouts.at(-1)).toMatchObject({ generation: g, result: "committed" });
  });

  it("aborts everywhere on a nack; each instance keeps its previous configuration; retries after a backoff", async () => {
    const { h, r1, r2, i1, i2 } = await twoRoutersRunning();
    const before = [i1.committedJson, i2.committedJson];
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    r1.answer("prepared");
    r2.answer("nacked", "fast mode needs a newer NIC");
    await h.settle();
    const reason = `router-2 refused generation ${g}: fast mode needs a newer NIC`;
    expect(r1.session!.sent("abort")).toEqual([{ generation: g, nonce: nonceOf(r1), reason }]);
    expect(r2.session!.sent("abort")).toEqual([{ generation: g, nonce: nonceOf(r2), reason }]);
    expect(r1.session!.sent("commit").filter((c) => c.generation === g)).toEqual([]);
    expect([i1.committedJson, i2.committedJson]).toEqual(before);
    expect(h.journal.at(-1)!.message).toBe(`generation ${g} aborted on router-1, router-2: ${reason}`);

    // The same change is offered again, but not before a second has passed.
    await h.elapse(990);
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    await h.elapse(10);
    expect(prepares(r1).at(-1)).toEqual({ generation: g + 1, config: json("fast", "router-1") });
  });

  it("coalesces changes that arrive mid-generation into the next generation", async () => {
    const { h, r1, r2, i1, i2 } = await twoRoutersRunning();
    r1.send({ events: [app("mode", "a")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    expect(prepares(r1).at(-1)!.config).toBe(json("a", "router-1"));

    // Two more changes while generation g prepares, one more while it commits: none interleaves with it.
    r1.send({ events: [app("mode", "b")] });
    await h.settle();
    r1.send({ events: [app("mode", "c")] });
    await h.settle();
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    expect(prepares(r2).at(-1)!.generation).toBe(g);
    await answerAll(h, [r1, r2], "prepared");
    r1.send({ events: [app("mode", "d")] });
    await h.settle();
    expect(prepares(r1).at(-1)!.generation).toBe(g);

    r1.answer("committed");
    await h.settle();
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    r2.answer("committed");
    await h.settle();
    // Generation g is done: the latest desired configuration goes out as g + 1, at once.
    expect([i1.committedJson, i2.committedJson]).toEqual([json("a", "router-1"), json("a", "router-2")]);
    expect(prepares(r1).at(-1)).toEqual({ generation: g + 1, config: json("d", "router-1") });
    expect(prepares(r2).at(-1)).toEqual({ generation: g + 1, config: json("d", "router-2") });
    expect(prepares(r1).filter((p) => p.generation > g)).toHaveLength(1);
    await answerAll(h, [r1, r2], "prepared");
    await answerAll(h, [r1, r2], "committed");
    expect([i1.committedJson, i2.committedJson]).toEqual([json("d", "router-1"), json("d", "router-2")]);
    await h.elapse(10_000);
    expect(prepares(r1).filter((p) => p.generation > g + 1)).toEqual([]);
  });

  it("a participant that disconnects before it prepared aborts the generation", async () => {
    const { h, r1, r2, i2 } = await twoRoutersRunning();
    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    r1.answer("prepared");
    r2.disconnect("link down");
    await h.settle();
    expect(r1.session!.sent("abort")).toMatchObject([
      { generation: g, reason: "router-2 disconnected before it prepared" },
    ]);
    expect(i2.committedJson).toBe(json("base", "router-2"));
  });
});
