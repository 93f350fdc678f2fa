import { ConfigAckStatus } from "@froctal/protocol";
import { app } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { json, prepares, twoRoutersRunning } from "../../test/routers.js";

describe("Manager: a commit that fails on one guest", () => {
  it("is recorded as what the guest runs, shown in status and the journal, and re-pushed to that guest", async () => {
    const { h, r1, r2, i2 } = await twoRoutersRunning();
    const first = i2.generation;
    expect(i2.committedJson).toBe(json("base", "router-2"));

    r1.send({ events: [app("mode", "fast")] });
    await h.settle();
    const g = prepares(r1).at(-1)!.generation;
    r1.answer("prepared");
    r2.answer("prepared");
    await h.settle();
    r1.answer("committed");
    // router-2's commit handler throws: the agent answers NACKED and still runs the generation it ran.
    const commit = r2.session!.sent("commit").at(-1)!;
    const reason = `commit of generation ${g} failed, generation ${first} still runs: the swap failed`;
    h.manager.ingest.configAck(r2.session!, {
      generation: g,
      nonce: String(commit.nonce),
      status: ConfigAckStatus.CONFIG_ACK_STATUS_NACKED,
      reason,
      runningGeneration: first,
    });
    await h.settle();

    const status = h.manager.status();
    expect(status.rollouts.at(-1)).toEqual({
      generation: g,
      result: "committed",
      instances: ["router-1", "router-2"],
      results: [
        { instance: "router-1", result: "committed" },
        { instance: "router-2", result: "failed", running: first, reason },
      ],
      at: expect.any(Number),
    });
    expect(status.services[0]!.instances.map((i) => [i.id, i.generation])).toEqual([
      ["router-1", g],
      ["router-2", first],
    ]);
    expect([i2.generation, i2.committedJson]).toEqual([first, json("base", "router-2")]);
    expect(h.journal.filter((e) => e.kind === "rollout").at(-1)!.message).toBe(
      `generation ${g} committed on router-1; router-2 did not commit it and runs generation ${first}: ${reason}`,
    );

    // Offered again to router-2 alone, after the backoff of a failed change.
    const r1Prepares = prepares(r1).length;
    await h.elapse(990);
    expect(prepares(r2).at(-1)!.generation).toBe(g);
    await h.elapse(10);
    expect(prepares(r2).at(-1)).toEqual({ generation: g + 1, config: json("fast", "router-2") });
    expect(prepares(r1)).toHaveLength(r1Prepares);
    r2.answer("prepared");
    await h.settle();
    r2.answer("committed");
    await h.settle();
    expect([i2.generation, i2.committedJson]).toEqual([g + 1, json("fast", "router-2")]);
  });
});
