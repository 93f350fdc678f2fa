import { chmodSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import {
  ALPHA,
  BETA,
  fixture,
  fixtureUri,
  OTHER_ALPHA,
  record,
  rejection,
  specFor,
  TEMPLATES,
} from "../test/helpers.js";
import { createLibvirtDriver, type LibvirtDriver } from "./libvirt-driver.js";
import type { LibvirtDriverOptions } from "./options.js";

// Each test:///abs/path host has private state per connection: a driver sees only what it did there.
const HOST_A = fixtureUri("host-a.xml");
const SMALL = fixtureUri("small-host.xml");
const BIG = fixtureUri("big-host.xml");
const open: LibvirtDriver[] = [];

function driver(uris: string[], options: Partial<LibvirtDriverOptions> = {}): LibvirtDriver {
  const made = createLibvirtDriver({ uris, templates: TEMPLATES, pollMs: 25, callTimeoutMs: 3000, ...options });
  open.push(made);
  return made;
}

afterEach(async () => {
  await Promise.all(open.splice(0).map((d) => d.close()));
});

describe("libvirt driver: adoption from a host's metadata", () => {
  it("lists exactly its fleet's domains by fleet id, with what their metadata says, and ignores all others", async () => {
    const d = driver([HOST_A]);
    const alpha = await d.list(ALPHA);
    expect([...alpha].sort((x, y) => x.instanceId.localeCompare(y.instanceId))).toEqual([
      {
        instanceId: "web-1",
        fleet: "alpha",
        fleetId: ALPHA.id,
        service: "web",
        state: "running",
        uri: HOST_A,
        domain: "froctal.alpha.web-1",
        uuid: "0b6f1c6e-7d4a-5c1e-9c7a-3f2e1d0c9b8a",
      },
      expect.objectContaining({ instanceId: "web-2", fleetId: ALPHA.id, state: "crashed" }),
      // An earlier froctal's, marked with the name "alpha" only: listed as not provably alpha's.
      {
        instanceId: "web-9",
        fleet: "alpha",
        fleetId: undefined,
        service: "web",
        state: "running",
        uri: HOST_A,
        domain: "froctal.alpha.web-9",
        uuid: "0b6f1c6e-7d4a-5c1e-9c7a-3f2e1d0c9b8f",
      },
    ]);
    // The other fleet named alpha (its own manager, its own driver) sees its own web-1, and the same unproven web-9.
    expect((await driver([HOST_A]).list(OTHER_ALPHA)).map((o) => [o.instanceId, o.fleetId, o.domain])).toEqual([
      ["web-1", OTHER_ALPHA.id, "froctal.alpha.a2a2a2a2.web-1"],
      ["web-9", undefined, "froctal.alpha.web-9"],
    ]);
    expect((await d.list(BETA)).map((o) => o.instanceId)).toEqual(["db-1"]);
    expect(await d.list({ name: "nobody", id: "0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e0e" })).toEqual([]);
  });

  it("never stops a domain that carries its fleet's name but no fleet id, nor reports it", async () => {
    const d = driver([HOST_A]);
    const { events } = record(d);
    await d.list(ALPHA);
    await d.stop("web-9", { graceMs: 0 });
    const listed = (await d.list(ALPHA)).map((o) => [o.instanceId, o.fleetId, o.state]);
    expect(listed.sort((x, y) => String(x[0]).localeCompare(String(y[0])))).toEqual([
      ["web-1", ALPHA.id, "running"],
      ["web-2", ALPHA.id, "crashed"],
      ["web-9", undefined, "running"],
    ]);
    expect(events).toEqual([]);
  });

  it("stops an adopted domain with a requested exit, and starts a crashed one again in place", async () => {
    const d = driver([HOST_A]);
    const { of } = record(d);
    await d.list(ALPHA);
    await d.stop("web-1", { graceMs: 500 });
    expect(of("web-1")).toEqual([expect.objectContaining({ kind: "exited", requested: true })]);
    // Persistent (defined in the host file), so it stays, shut off.
    expect((await d.list(ALPHA)).find((o) => o.instanceId === "web-1")?.state).toBe("stopped");

    await d.start(specFor({ instanceId: "web-2" }));
    const restarted = (await d.list(ALPHA)).find((o) => o.instanceId === "web-2");
    expect(restarted).toMatchObject({
      state: "running",
      domain: "froctal.alpha.web-2",
      uuid: "0b6f1c6e-7d4a-5c1e-9c7a-3f2e1d0c9b8b",
    });
    expect(of("web-2").map((e) => e.kind)).toEqual(["started"]);
  });
});

describe("libvirt driver: placement across hosts", () => {
  it("spreads instances over hosts by count within each host's memory, and remembers where each went", async () => {
    const d = driver([SMALL, BIG]);
    const specs = Array.from({ length: 6 }, () => specFor({ image: "big" }));
    for (const spec of specs) await d.start(spec);
    const where = new Map((await d.list(ALPHA)).map((o) => [o.instanceId, o.uri]));
    // 64 MiB each: the small host (200 MiB) takes three, alternating with the big one while counts tie.
    expect(specs.map((s) => where.get(s.instanceId))).toEqual([SMALL, BIG, SMALL, BIG, SMALL, BIG]);
    const seventh = specFor({ image: "big" });
    await d.start(seventh);
    expect((await d.list(ALPHA)).find((o) => o.instanceId === seventh.instanceId)?.uri).toBe(BIG);

    await d.stop(specs[0]!.instanceId, { graceMs: 500 });
    const after = await d.list(ALPHA);
    expect(after.map((o) => o.instanceId)).not.toContain(specs[0]!.instanceId);
    expect(after).toHaveLength(6);
  });

  it("refuses, retryably, a start no host has room for, counting starts under way", async () => {
    const d = driver([SMALL]);
    const outcomes = await Promise.allSettled(Array.from({ length: 4 }, () => d.start(specFor({ image: "big" }))));
    expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(3);
    const refused = outcomes.find((o) => o.status === "rejected") as PromiseRejectedResult;
    expect(refused.reason).toMatchObject({ code: "FROCTAL_E_RESOURCES", retryable: true });
    expect(String(refused.reason)).toMatch(/no host has room for a guest of 65536 KiB/);
  });

  it("refuses, retryably, to list or start while a host has never been listed, and says which and why", async () => {
    const down = "test:///nonexistent/froctal-host.xml";
    const failures: string[] = [];
    const d = driver([BIG, down], { onPollError: (uri, error) => failures.push(`${uri}: ${error.code}`) });
    const listed = await rejection(d.list(ALPHA));
    expect(listed).toMatchObject({ code: "FROCTAL_E_TRANSPORT", retryable: true });
    expect(listed.message).toContain(down);
    expect(failures).toContain(`${down}: FROCTAL_E_TRANSPORT`);
    const started = await rejection(d.start(specFor()));
    expect(started).toMatchObject({ code: "FROCTAL_E_TRANSPORT", retryable: true });
    expect(started.message).toMatch(/might run there unseen/);
  });
});

describe("libvirt driver: devices", () => {
  const NIC = "<interface type='network'><source network='default'/><model type='virtio'/></interface>";

  it("hot-plugs through virsh on the instance's own host, naming its domain by UUID", async () => {
    const dir = mkdtempSync(join(tmpdir(), "froctal-driver-virsh-"));
    const fake = fixture("fake-virsh.sh");
    chmodSync(fake, 0o755);
    process.env.FAKE_VIRSH_OUT = join(dir, "run");
    try {
      const d = driver([BIG, HOST_A], { virsh: fake });
      await d.list(ALPHA);
      await d.attachDevice("web-1", NIC);
      const args = readFileSync(join(dir, "run.args"), "utf8").trim().split("\n");
      expect(args).toEqual([
        "-c",
        HOST_A,
        "attach-device",
        "0b6f1c6e-7d4a-5c1e-9c7a-3f2e1d0c9b8a",
        expect.any(String),
        "--live",
      ]);
      await d.detachDevice("web-1", NIC);
      expect(readFileSync(join(dir, "run.args"), "utf8")).toContain("detach-device");
      // Crashed, or unknown: nothing to plug into.
      expect(await rejection(d.attachDevice("web-2", NIC))).toMatchObject({ code: "FROCTAL_E_NOT_FOUND" });
      expect(await rejection(d.detachDevice("nope", NIC))).toMatchObject({ code: "FROCTAL_E_NOT_FOUND" });
    } finally {
      delete process.env.FAKE_VIRSH_OUT;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("passes on what the real virsh says: the test driver cannot hot-plug", async () => {
    const d = driver([HOST_A]);
    await d.list(ALPHA);
    const error = await rejection(d.attachDevice("web-1", NIC));
    expect(error).toMatchObject({ code: "FROCTAL_E_CONFIG", failure: "unsupported" });
    expect(error.message).toMatch(/not supported by the connection driver/);
  });
});
