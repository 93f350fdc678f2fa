import { describe, expect, it, vi } from "vitest";
import { ALPHA, probedConnections, record, rejection, specFor, testDrivers } from "../test/helpers.js";
import { domainIdentity } from "./identity.js";

const _DEFAULT = "test:///default";
const { driver, bystander } = testDrivers();

describe("libvirt driver: bounded, timed calls", () => {
  it("never has more libvirt calls in flight than its gate allows, however many starts, stops and lists overlap", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect, maxInFlight: 3 });
    const specs = Array.from({ length: 12 }, () => specFor());
    await Promise.all([...specs.map((s) => d.start(s)), d.list(ALPHA), d.list(ALPHA)]);
    expect((await d.list(ALPHA)).filter((o) => specs.some((s) => s.instanceId === o.instanceId))).toHaveLength(12);
    await Promise.all(specs.map((s) => d.stop(s.instanceId, { graceMs: 100 })));
    expect(probe.peak).toBeLessThanOrEqual(3);
    expect(probe.peak).toBeGreaterThan(1);
    expect(await bystander.ours()).toEqual([]);
  });

  it("fails a call that stalls past callTimeoutMs retryably; the domain it made is found by the next listing, once", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect, callTimeoutMs: 150 });
    const { of } = record(d);
    const spec = specFor();
    await d.list(ALPHA);
    probe.stall.set("domainCreateXML", 400);
    const stalled = await rejection(d.start(spec));
    expect(stalled).toMatchObject({ code: "FROCTAL_E_TIMEOUT", retryable: true });
    expect(stalled.message).toMatch(/did not return within 150 ms/);
    // The create still happens; the connection it stalled on was given up, and a new one lists the domain.
    await vi.waitFor(() => expect(of(spec.instanceId).map((e) => e.kind)).toEqual(["started"]), { timeout: 2000 });
    expect(probe.opened).toBeGreaterThanOrEqual(2);
    await d.start(spec);
    expect(probe.calls.filter((c) => c === "domainCreateXML")).toHaveLength(1);
    expect(await bystander.ours()).toEqual([domainIdentity("alpha", ALPHA.id, spec.instanceId).name]);
  });
});

describe("libvirt driver: reconnects", () => {
  it("after a dropped connection, reconnects and lists the host again before any destructive call", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect, pollMs: 60_000 });
    const { of } = record(d);
    const spec = specFor();
    await d.start(spec);
    probe.cut.add("domainLookupByUUIDString");
    const dropped = await rejection(d.stop(spec.instanceId, { graceMs: 500 }));
    expect(dropped).toMatchObject({ code: "FROCTAL_E_TRANSPORT", retryable: true });
    const mark = probe.calls.length;
    await vi.waitFor(() => d.stop(spec.instanceId, { graceMs: 500 }), { timeout: 2000, interval: 100 });
    const after = probe.calls.slice(mark);
    const reopened = after.indexOf("connectOpen");
    const relisted = after.indexOf("connectListAllDomains", reopened);
    expect(reopened).toBeGreaterThanOrEqual(0);
    expect(relisted).toBeGreaterThan(reopened);
    expect(after.indexOf("domainShutdown")).toBeGreaterThan(relisted);
    expect(of(spec.instanceId).at(-1)).toMatchObject({ kind: "exited", requested: true });
  });

  it("reports what changed while it was disconnected once it lists again", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect });
    const { of } = record(d);
    const spec = specFor();
    await d.start(spec);
    probe.cut.add("connectListAllDomains");
    await bystander.destroy(domainIdentity("alpha", ALPHA.id, spec.instanceId).name);
    await vi.waitFor(() => expect(of(spec.instanceId)).toHaveLength(2), { timeout: 2000 });
    expect(of(spec.instanceId)[1]).toMatchObject({ kind: "exited", requested: false });
    expect(probe.opened).toBeGreaterThanOrEqual(2);
  });
});
