import { ready } from "@froctal/testkit";
import { afterEach, describe, expect, it, vi } from "vitest";
import { harness } from "../../test/harness.js";
import { defineFleet } from "../policy/fleet.js";

describe("Manager: errors in reactions are journaled and counted, never printed", () => {
  afterEach(() => vi.restoreAllMocks());

  it("a policy that throws is journaled once with its service and counted; the service keeps its target", async () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    let broken = false;
    const fleet = defineFleet({
      name: "f",
      services: {
        web: {
          image: "web.js",
          replicas: (s) => {
            if (s.ready.length > 0 && broken) throw new Error("division by zero");
            return 1;
          },
        },
      },
    });
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    broken = true;
    h.boot("web-1");
    await h.settle();
    h.agent("web-1").send({ metrics: { cpu: 1 } });
    await h.settle();
    expect(h.journal.filter((e) => e.kind === "failed")).toEqual([
      { at: 0, kind: "failed", service: "web", message: "the policy of web threw: division by zero" },
    ]);
    expect(h.manager.stats.reactions).toEqual({ errors: 0, policyErrors: 1 });
    expect(h.target("web")).toBe(1);
    expect(printed).not.toHaveBeenCalled();
  });

  it("an effect that throws (a session whose send throws) is journaled with the fleet, counted, and the manager carries on", async () => {
    const printed = vi.spyOn(console, "error").mockImplementation(() => {});
    const fleet = defineFleet({
      name: "net",
      services: { router: { image: "router.js", replicas: 1, config: (_f, i) => ({ self: i.id }) } },
    });
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const a = h.agent("router-1");
    expect(a.connect()).toMatchObject({ ok: true });
    a.session!.send = () => {
      throw new Error("the socket exploded");
    };
    a.send({ events: [ready()] });
    await h.settle();
    expect(h.journal.filter((e) => e.kind === "failed").map((e) => e.message)).toEqual([
      "the rollout of fleet net threw: the socket exploded",
    ]);
    expect(h.manager.stats.reactions).toEqual({ errors: 1, policyErrors: 0 });
    expect(printed).not.toHaveBeenCalled();
    // The tick and the plan go on: the instance is ready and nothing else was started.
    expect(h.phases()).toEqual({ "router-1": "ready" });
    expect(h.started()).toEqual(["router-1"]);
  });
});
