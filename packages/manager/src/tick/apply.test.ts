import { app, device, FakeAgent } from "@froctal/testkit";
import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
import { defineFleet } from "../policy/fleet.js";

describe("Manager: the ingest adapter", () => {
  const fleet = defineFleet({ name: "f", services: { web: { image: "web.js", replicas: 1 } } });

  it("refuses a wrong token and an unknown instance; the instance stays unconnected", async () => {
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const intruder = new FakeAgent(h.manager.ingest, "web-1", "tok-2");
    expect(intruder.connect()).toEqual({
      ok: false,
      code: "FROCTAL_E_AUTH",
      reason: "the token presented for web-1 is not the one it was launched with",
    });
    expect(new FakeAgent(h.manager.ingest, "web-9", "tok-1").connect()).toMatchObject({
      ok: false,
      code: "FROCTAL_E_AUTH",
    });
    await h.settle();
    expect(h.manager.store.instance("web-1")!.session).toBeUndefined();
    expect(h.manager.status().services[0]!.instances[0]).toMatchObject({ id: "web-1", connected: false });
    expect(h.manager.stats.ingest).toMatchObject({ admitted: 0, refused: 2 });
    expect(h.agent("web-1").connect()).toMatchObject({ ok: true, ackedSeq: 0 });
  });

  it("applies events re-sent after a reconnect with the same stream id once", async () => {
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    const a = h.boot("web-1");
    a.send({ events: [device("nic0", "added"), app("mode", "fast")] });
    a.send({ events: [device("nic0", "removed"), app("mode", "slow")] });
    await h.settle();
    const i = h.manager.store.instance("web-1")!;
    expect([i.devices.size, i.fact("mode")]).toEqual([0, "slow"]);

    a.disconnect("network blip");
    expect(a.connect()).toEqual({ ok: true, ackedSeq: 5 });
    a.resend(2); // the agent did not see the acks: everything after READY again, and a new event
    a.send({ events: [app("seen", true)] });
    await h.settle();
    expect([i.devices.size, i.fact("mode"), i.fact("seen"), i.phase]).toEqual([0, "slow", true, "ready"]);
    expect(h.manager.stats.ingest).toMatchObject({ duplicates: 4, events: 6 });

    // A new stream (the agent restarted) starts from 0: its events are new.
    a.streamId = "restarted";
    expect(a.connect()).toEqual({ ok: true, ackedSeq: 0 });
    a.resend(4);
    await h.settle();
    expect([i.devices.size, i.fact("mode")]).toEqual([0, "slow"]);
    expect(h.manager.stats.ingest.events).toBe(9);
  });
});
