/**
 * Property tests of configuration rollout over random interleavings, on a
 * fleet shaped like the routers example: router-1's network is routed by
 * every other router, router-2's MTU fact sets the MTU of routers 1 and 3, so
 * one fact changes several instances' desired configuration at once.
 *
 * A trace mixes fact changes, guests answering some of the commands they
 * received (preparing, or refusing), disconnects (frames in transit lost or
 * not), reconnects that report the generation the guest runs, silences past
 * the rollout timeout, and manager restarts over the same driver and state.
 * The guests are modelled as the agent behaves (ConfigGuest: running and
 * staged configuration), so the checks are on what guests did:
 *
 *   (a) no guest applies a generation that was aborted (told to any guest, or
 *       recorded as the outcome), nor one that some participant had not
 *       prepared; the manager never believes a guest runs a configuration it
 *       did not apply, nor forgets a generation the guest said it runs;
 *   (b) generations handed out only grow, across restarts too: none is used twice;
 *       every generation is one snapshot of the facts;
 *   (c) once the network heals, every guest runs its desired configuration,
 *       the manager knows it, all agree, and nothing more is pushed.
 */

import type { GuestConfig } from "@froctal/testkit";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { step, TIMEOUT_MS } from "../../test/rollout-trace.js";
import { run } from "../../test/rollout-world.js";

describe("Rollout properties (random interleavings, guests modelled as the agent)", () => {
  it("the fleet converges on its first configuration when nothing goes wrong", async () => {
    const w = await run([]);
    expect(w.guests.map((g) => g.config.applied.length)).toEqual([1, 1, 1, 1]);
    expect(w.offers).toBe(4);
  });

  it("never applies an aborted generation, never reuses one, and converges once the network heals", async () => {
    const seen = { committed: 0, aborted: 0, restarts: 0, lateCommits: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 40, size: "max" }), async (steps) => {
        const w = await run(steps);
        seen.committed += w.count("committed");
        seen.aborted += w.count("aborted");
        seen.restarts += steps.filter((s) => s.kind === "restart").length;
        seen.lateCommits += w.lateCommits;
      }),
      { numRuns: 150 },
    );
    // The traces reach what the properties are about.
    for (const [what, n] of Object.entries(seen)) expect(n, what).toBeGreaterThan(0);
  });

  // Found by the property above (fixed in Rollout.acknowledge): router-4 confirms generation 2 after it
  // timed out in its commit phase, and the network has moved back meanwhile; unrecorded, it ran 10.2 forever.
  it("a guest that commits after its generation ended is offered its desired configuration again", async () => {
    const w = await run([
      { kind: "prefix", value: "10.2.0.0/24" },
      { kind: "round" }, // all prepare; commit goes out
      { kind: "prefix", value: "10.1.0.0/24" }, // waits for the next generation
      { kind: "answer", who: 1, frames: 1, refuse: false },
      { kind: "answer", who: 2, frames: 1, refuse: false },
      { kind: "elapse", ms: TIMEOUT_MS }, // router-4 is late: generation 2 stands without it
      { kind: "answer", who: 3, frames: 1, refuse: false }, // ...and now commits it
    ]);
    const routes = (c: GuestConfig) => (JSON.parse(c.json) as { routes: { prefix: string }[] }).routes[0]!.prefix;
    expect(w.guests[3]!.config.applied.map(routes)).toEqual(["10.1.0.0/24", "10.2.0.0/24", "10.1.0.0/24"]);
    expect(w.lateCommits).toBe(1);
  });
});
