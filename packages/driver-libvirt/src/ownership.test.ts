import { describe, expect, it } from "vitest";
import { domainIdentity, uuidV5 } from "./identity.js";
import { FROCTAL_NS, ownershipElement, ownershipOf, readOwnership } from "./ownership.js";
import { parseXml } from "./xml.js";

const spec = {
  instanceId: "web-1",
  fleet: "alpha",
  service: "web & co",
  image: "guest",
  env: { FROCTAL_TOKEN: "t0ken", FROCTAL_CONFIG_GENERATION: "7" },
};
const inDomain = (element: string) => parseXml(`<domain><metadata>${element}</metadata></domain>`);

describe("ownership", () => {
  it("says whose the domain is and nothing else (no token, no digest, no generation), and reads back what it wrote", () => {
    const ownership = ownershipOf(spec);
    expect(ownership).toEqual({ instanceId: "web-1", fleet: "alpha", service: "web & co" });
    const element = ownershipElement(ownership);
    expect(element).toBe(
      `<froctal:instance xmlns:froctal="${FROCTAL_NS}" id="web-1" fleet="alpha" service="web &amp; co"/>`,
    );
    expect(readOwnership(inDomain(element))).toEqual(ownership);
  });

  it("adopts a domain an earlier driver wrote token-sha256 and generation into", () => {
    const element = `<f:instance xmlns:f="${FROCTAL_NS}" id="i" fleet="f" service="s" token-sha256="ab" generation="-1"/>`;
    expect(readOwnership(inDomain(element))).toEqual({ instanceId: "i", fleet: "f", service: "s" });
  });

  it("reads any prefix (and a default namespace) bound to froctal's namespace", () => {
    const attrs = 'id="i" fleet="f" service="s"';
    for (const element of [
      `<zz:instance xmlns:zz="${FROCTAL_NS}" ${attrs}/>`,
      `<instance xmlns="${FROCTAL_NS}" ${attrs}/>`,
    ]) {
      expect(readOwnership(inDomain(element))).toEqual({ instanceId: "i", fleet: "f", service: "s" });
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
      "two claims",
      `<domain><metadata><f:instance xmlns:f="${FROCTAL_NS}" id="i" fleet="f" service="s"/><g:instance xmlns:g="${FROCTAL_NS}" id="j" fleet="f" service="s"/></metadata></domain>`,
    ],
  ])("says a domain with %s is nobody's", (_what, xml) => {
    expect(readOwnership(parseXml(xml))).toBeUndefined();
  });
});

describe("domainIdentity", () => {
  it("derives the same readable name and v5 UUID from the same fleet and instance, and different ones otherwise", () => {
    const a = domainIdentity("alpha", "web-1");
    expect(a).toEqual(domainIdentity("alpha", "web-1"));
    expect(a.name).toBe("froctal.alpha.web-1");
    expect(a.uuid).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(domainIdentity("beta", "web-1").uuid).not.toBe(a.uuid);
  });

  it("falls back to the UUID for names libvirt or a socket path would not take", () => {
    for (const [fleet, id] of [
      ["a.b", "c"],
      ["a", "x/y"],
      ["a", "x".repeat(80)],
    ] as const) {
      const identity = domainIdentity(fleet, id);
      expect(identity.name).toBe(`froctal-${identity.uuid}`);
    }
  });

  it("computes RFC 9562 v5 UUIDs (the RFC's own example)", () => {
    expect(uuidV5("www.example.com", "6ba7b810-9dad-11d1-80b4-00c04fd430c8")).toBe(
      "2ed6657d-e927-568b-95e1-2665a8aea6a2",
    );
  });
});
