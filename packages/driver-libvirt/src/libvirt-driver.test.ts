import { createHash } from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import {
  ALPHA,
  GAMMA,
  probedConnections,
  RUN_TAG,
  record,
  rejection,
  specFor,
  TEMPLATES,
  testDrivers,
} from "../test/helpers.js";
import { domainIdentity } from "./identity.js";
import { FROCTAL_NS } from "./ownership.js";

const DEFAULT = "test:///default";
const { driver, bystander } = testDrivers();

function nameOf(instanceId: string): string {
  return domainIdentity("alpha", ALPHA.id, instanceId).name;
}

describe("libvirt driver on the test driver: starting", () => {
  it("creates a domain from the template, with froctal metadata and nothing of the token, and reports it started", async () => {
    const d = driver();
    const { of } = record(d);
    const spec = specFor();
    await d.start(spec);
    expect(of(spec.instanceId)).toEqual([
      { kind: "started", instanceId: spec.instanceId, detail: `domain ${nameOf(spec.instanceId)} runs on ${DEFAULT}` },
    ]);
    const xml = (await bystander.xml(nameOf(spec.instanceId)))!;
    const digest = createHash("sha256").update(spec.env.FROCTAL_TOKEN!).digest("hex");
    expect(xml).toContain(
      `<froctal:instance xmlns:froctal="${FROCTAL_NS}" id="${spec.instanceId}" fleet="alpha" fleet-id="${ALPHA.id}" service="web"/>`,
    );
    expect(xml).not.toContain(spec.env.FROCTAL_TOKEN);
    expect(xml).not.toContain(digest);
    expect(xml).toContain(`/run/froctal/channels/${nameOf(spec.instanceId)}.sock`);
    expect(await d.list(ALPHA)).toContainEqual({
      instanceId: spec.instanceId,
      fleet: "alpha",
      fleetId: ALPHA.id,
      service: "web",
      state: "running",
      uri: DEFAULT,
      domain: nameOf(spec.instanceId),
      uuid: domainIdentity("alpha", ALPHA.id, spec.instanceId).uuid,
    });
  });

  it("is idempotent: starts at once and later make one domain and one started event", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect });
    const { of } = record(d);
    const spec = specFor();
    await Promise.all([d.start(spec), d.start(spec)]);
    await d.start(spec);
    expect(probe.calls.filter((c) => c === "domainCreateXML")).toHaveLength(1);
    expect(of(spec.instanceId).map((e) => e.kind)).toEqual(["started"]);
    expect(await bystander.ours()).toEqual([nameOf(spec.instanceId)]);
  });

  it("refuses an unknown image, and XML libvirt rejects, as config errors; a foreign domain of the same name too", async () => {
    const d = driver({
      templates: {
        ...TEMPLATES,
        bogus: { ...TEMPLATES.guest, xml: TEMPLATES.guest.xml.replace("<type>hvm</type>", "<type>bogus</type>") },
      },
    });
    expect(await rejection(d.start(specFor({ image: "nope" })))).toMatchObject({ code: "FROCTAL_E_CONFIG" });
    const bogus = await rejection(d.start(specFor({ image: "bogus" })));
    expect(bogus).toMatchObject({ code: "FROCTAL_E_CONFIG", retryable: false });
    expect(bogus.message).toMatch(/creating domain .* failed: unsupported configuration: unknown OS type 'bogus'/);
    const spec = specFor();
    await bystander.hypervisor.domainCreateXML(
      `<domain type='test'><name>${nameOf(spec.instanceId)}</name><memory unit='MiB'>16</memory><os><type>hvm</type></os></domain>`,
    );
    const clash = await rejection(d.start(spec));
    expect(clash.code).toBe("FROCTAL_E_CONFIG");
    expect(clash.message).toMatch(/already exists|not instance/);
    expect(await d.list(ALPHA)).toEqual([]);
  });

  it("refuses a command service at once, as a config error that no retry mends, and creates nothing", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect });
    const { events } = record(d);
    const spec = { ...specFor(), image: undefined, command: ["/usr/bin/solo5-hvt", "app.hvt"] };
    const refusal = await rejection(d.start(spec));
    expect(refusal).toMatchObject({ code: "FROCTAL_E_CONFIG", retryable: false });
    expect(refusal.message).toBe(
      `FROCTAL_E_CONFIG: instance ${spec.instanceId} of service web gives a command (/usr/bin/solo5-hvt); the libvirt driver runs domains from templates named by an image, not commands: run this service on the process driver`,
    );
    expect(probe.calls.filter((c) => c.startsWith("domainCreate"))).toEqual([]);
    expect(events).toEqual([]);
  });
});

describe("libvirt driver on the test driver: stopping", () => {
  it("shuts a domain down, reports a requested exit, and does nothing the second time", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect });
    const { of } = record(d);
    const spec = specFor();
    await d.start(spec);
    await d.stop(spec.instanceId, { graceMs: 1000 });
    await d.stop(spec.instanceId, { graceMs: 1000 });
    await d.stop("never-started", { graceMs: 1000 });
    expect(of(spec.instanceId)).toEqual([
      expect.objectContaining({ kind: "started" }),
      {
        kind: "exited",
        instanceId: spec.instanceId,
        requested: true,
        code: null,
        detail: `domain ${nameOf(spec.instanceId)} on ${DEFAULT} shut down within its grace period`,
      },
    ]);
    expect(probe.calls.filter((c) => c === "domainShutdown")).toHaveLength(1);
    expect(probe.calls).not.toContain("domainDestroy");
    expect(await bystander.ours()).toEqual([]);
    expect(await d.list(ALPHA)).toEqual([]);
  });

  it("destroys a domain that ignores shutdown once graceMs has passed; with no grace, at once", async () => {
    const { connect, probe } = probedConnections();
    const d = driver({ connect });
    const { of } = record(d);
    const stubborn = specFor({ image: "stubborn" });
    await d.start(stubborn);
    const begun = performance.now();
    await d.stop(stubborn.instanceId, { graceMs: 150 });
    expect(performance.now() - begun).toBeGreaterThanOrEqual(145);
    expect(of(stubborn.instanceId).at(-1)).toMatchObject({
      kind: "exited",
      requested: true,
      detail: expect.stringMatching(/destroyed after its 150 ms grace period$/),
    });
    expect(probe.calls.filter((c) => c === "domainShutdown")).toHaveLength(1);
    expect(probe.calls.filter((c) => c === "domainDestroy")).toHaveLength(1);

    const hasty = specFor({ image: "stubborn" });
    await d.start(hasty);
    await d.stop(hasty.instanceId, { graceMs: 0 });
    expect(of(hasty.instanceId).at(-1)).toMatchObject({
      requested: true,
      detail: expect.stringMatching(/no grace period/),
    });
    expect(probe.calls.filter((c) => c === "domainShutdown")).toHaveLength(1);
    expect(await bystander.ours()).toEqual([]);
  });

  it("lets a start wait for a stop under way, and a second stop join the first", async () => {
    const d = driver();
    const { of } = record(d);
    const spec = specFor({ image: "stubborn" });
    await d.start(spec);
    const first = d.stop(spec.instanceId, { graceMs: 100 });
    const second = d.stop(spec.instanceId, { graceMs: 0 });
    const again = d.start(spec);
    await Promise.all([first, second, again]);
    expect(of(spec.instanceId).map((e) => e.kind)).toEqual(["started", "exited", "started"]);
    expect(of(spec.instanceId)[1]?.detail).toMatch(/after its 100 ms grace period/);
    expect(await bystander.ours()).toEqual([nameOf(spec.instanceId)]);
  });
});

describe("libvirt driver on the test driver: observing", () => {
  it("reports a domain destroyed behind its back as an exit it did not ask for, and can start it again", async () => {
    const d = driver();
    const { of } = record(d);
    const spec = specFor();
    await d.start(spec);
    await bystander.destroy(nameOf(spec.instanceId));
    await vi.waitFor(() => expect(of(spec.instanceId)).toHaveLength(2));
    expect(of(spec.instanceId)[1]).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: false,
      code: null,
      detail: `domain ${nameOf(spec.instanceId)} on ${DEFAULT} is gone`,
    });
    expect(await d.list(ALPHA)).toEqual([]);
    await d.start(spec);
    expect(of(spec.instanceId).map((e) => e.kind)).toEqual(["started", "exited", "started"]);
  });

  it("reports domains that appear and go for the fleets it was asked about only", async () => {
    const d = driver();
    const { events } = record(d);
    await d.list(ALPHA);
    const other = driver({ pollMs: 60_000 });
    const mine = specFor();
    const theirs = specFor({ fleet: GAMMA.name, fleetId: GAMMA.id });
    await other.start(mine);
    await other.start(theirs);
    await vi.waitFor(() => expect(events).toHaveLength(1));
    expect(events[0]).toEqual({
      kind: "started",
      instanceId: mine.instanceId,
      detail: `domain ${nameOf(mine.instanceId)} on ${DEFAULT} is running`,
    });
    expect((await d.list(GAMMA)).map((o) => o.instanceId)).toEqual([theirs.instanceId]);
    await bystander.destroy(domainIdentity("gamma", GAMMA.id, theirs.instanceId).name);
    await vi.waitFor(() => expect(events).toHaveLength(2));
    expect(events[1]).toMatchObject({ kind: "exited", instanceId: theirs.instanceId, requested: false });
  });
});

describe("libvirt driver on the test driver: restart and close", () => {
  it("leaves domains running on close; a new driver re-adopts them without announcing, duplicating or losing any", async () => {
    const first = driver();
    const a = specFor();
    const b = specFor();
    await first.start(a);
    await first.start(b);
    await first.close();
    expect(await rejection(first.start(specFor()))).toMatchObject({ code: "FROCTAL_E_CLOSED" });
    expect(await rejection(first.list(ALPHA))).toMatchObject({ code: "FROCTAL_E_CLOSED" });
    expect(await bystander.ours()).toEqual([nameOf(a.instanceId), nameOf(b.instanceId)].sort());

    const { connect, probe } = probedConnections();
    const second = driver({ connect });
    const { events } = record(second);
    const adopted = await second.list(ALPHA);
    expect(adopted.filter((o) => o.domain.includes(RUN_TAG)).map((o) => [o.instanceId, o.state])).toEqual(
      expect.arrayContaining([
        [a.instanceId, "running"],
        [b.instanceId, "running"],
      ]),
    );
    await second.start(a);
    expect(probe.calls).not.toContain("domainCreateXML");
    await second.stop(b.instanceId, { graceMs: 500 });
    expect(events).toEqual([expect.objectContaining({ kind: "exited", instanceId: b.instanceId, requested: true })]);
    expect(await bystander.ours()).toEqual([nameOf(a.instanceId)]);
  });
});

describe("libvirt driver: channels for the bridge", () => {
  it("lists the channel socket of each running instance on a local host, and drops it once stopped", async () => {
    const d = driver({ channelDir: "/run/froctal-test/channels" });
    const spec = specFor();
    await d.start(spec);
    expect(d.channels().filter((c) => c.instanceId === spec.instanceId)).toEqual([
      { instanceId: spec.instanceId, path: `/run/froctal-test/channels/${nameOf(spec.instanceId)}.sock` },
    ]);
    await d.stop(spec.instanceId, { graceMs: 100 });
    expect(d.channels().filter((c) => c.instanceId === spec.instanceId)).toEqual([]);
  });
});
