import { describe, expect, it } from "vitest";
import { domainIdentity, uuidV5 } from "./identity.js";
import { FROCTAL_NS, ownershipElement, ownershipOf, readOwnership } from "./ownership.js";
import { parseXml } from "./xml.js";

const FLEET_ID = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";
const spec = {
  instanceId: "web-1",
  fleet: "alpha",
  fleetId: FLEET_ID,
  service: "web & co",
  image: "guest",
  env: { FROCTAL_TOKEN: "t0ken", FROCTAL_CONFIG_GENERATION: "7" },
};
const inDomain = (element: string) => parseXml(`<domain><metadata>${element}</metadata></domain>`);

describe("ownership", () => {
  it("says whose the domain is and nothing else (no token, no digest, no generation), and reads back what it wrote", () => {
    const ownership = ownershipOf(spec);
    expect(ownership).toEqual({ instanceId: "web-1", fleet: "alpha", fleetId: FLEET_ID, service: "web & co" });
    const element = ownershipElement(ownership);
    expect(element).toBe(
      `<froctal:instance xmlns:froctal="${FROCTAL_NS}" id="web-1" fleet="alpha" fleet-id="${FLEET_ID}" service="web &amp; co"/>`,
    );
    expect(readOwnership(inDomain(element))).toEqual(ownership);
  });

  it("reads a domain an earlier driver made (token-sha256 and generation, no fleet-id) as having no fleet id", () => {
    const element = `<f:instance xmlns:f="${FROCTAL_NS}" id="i" fleet="f" service="s" token-sha256="ab" generation="-1"/>`;
    expect(readOwnership(inDomain(element))).toEqual({ instanceId: "i", fleet: "f", fleetId: undefined, service: "s" });
  });

  it("reads any prefix (and a default namespace) bound to froctal's namespace", () => {
    const attrs = 'id="i" fleet="f" fleet-id="ff" service="s"';
    for (const element of [
      `<zz:instance xmlns:zz="${FROCTAL_NS}" ${attrs}/>`,
      `<instance xmlns="${FROCTAL_NS}" ${attrs}/>`,
    ]) {
      expect(readOwnership(inDomain(element))).toEqual({ instanceId: "i", fleet: "f", fleetId: "ff", service: "s" });
    }
  });

  it.each([
    ["no metadata", "<domain/>"],
    [
      "another namespace",
      '<domain><metadata><f:instance xmlns:f="urn:other" id="i" fleet="f" service="s"/></metadata></domain>',
    ],
    [
      "the froctal prefix bound elsewhere",
      '<domain><metadata><froctal:instance xmlns:froctal="urn:x" id="i" fleet="f" service="s"/></metadata></domain>',
    ],
    ["no fleet", `<domain><metadata><f:instance xmlns:f="${FROCTAL_NS}" id="i" service="s"/></metadata></domain>`],
    [
      "an empty fleet id",
      `<domain><metadata><f:instance xmlns:f="${FROCTAL_NS}" id="i" fleet="f" fleet-id="" service="s"/></metadata></domain>`,
    ],
    [
      "two claims",
      `<domain><metadata><f:instance xmlns:f="${FROCTAL_NS}" id="i" fleet="f" service="s"/><g:instance xmlns:g="${FROCTAL_NS}" id="j" fleet="f" service="s"/></metadata></domain>`,
    ],
  ])("says a domain with %s is nobody's", (_what, xml) => {
    expect(readOwnership(parseXml(xml))).toBeUndefined();
  });
});

describe("domainIdentity", () => {
  it("derives the same readable name and v5 UUID from the same fleet and instance, and different ones otherwise", () => {
    const a = domainIdentity("alpha", FLEET_ID, "web-1");
    expect(a).toEqual(domainIdentity("alpha", FLEET_ID, "web-1"));
    expect(a.name).toBe("froctal.alpha.a1a1a1a1.web-1");
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(domainIdentity("alpha", FLEET_ID, "web-2").uuid).not.toBe(a.uuid);
  });

  it("gives two fleets of one name different domains for the same instance id", () => {
    const a = domainIdentity("alpha", FLEET_ID, "web-1");
    const b = domainIdentity("alpha", "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2", "web-1");
    expect(b.name).toBe("froctal.alpha.b2b2b2b2.web-1");
    expect(b.uuid).not.toBe(a.uuid);
  });

  it("falls back to the UUID for names libvirt or a socket path would not take", () => {
    for (const [fleet, fleetId, id] of [
      ["a.b", FLEET_ID, "c"],
      ["a", FLEET_ID, "x/y"],
      ["a", FLEET_ID, "x".repeat(80)],
      ["a", "a1.b", "c"],
    ] as const) {
      const identity = domainIdentity(fleet, fleetId, id);
      expect(identity.name).toBe(`froctal-${identity.uuid}`);
    }
  });

  it("computes RFC 9562 v5 UUIDs (the RFC's own example)", () => {
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });
});
