import { FroctalError } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { GUEST_XML, guestTemplate } from "../test/helpers.js";
import { domainIdentity } from "./identity.js";
import { ownershipOf, readOwnership } from "./ownership.js";
import { checkTemplate, type DomainTemplate, renderDomain } from "./template.js";
import { child, parseXml } from "./xml.js";

const spec = {
  instanceId: "web-1",
  fleet: "alpha",
  fleetId: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1",
  service: "web",
  image: "guest",
  env: { FROCTAL_TOKEN: "t0ken", REGION: "eu <west>" },
  args: ["--port", "80"],
};

function render(template: DomainTemplate) {
  const identity = domainIdentity(spec.fleet, spec.fleetId, spec.instanceId);
  return renderDomain("guest", template, {
    spec,
    identity,
    channelPath: `/run/froctal/${identity.name}.sock`,
    ownership: ownershipOf(spec),
  });
}

function configError(call: () => unknown): FroctalError {
  try {
    call();
  } catch (error) {
    expect(error).toBeInstanceOf(FroctalError);
    expect((error as FroctalError).code).toBe("FROCTAL_E_CONFIG");
    return error as FroctalError;
  }
  throw new Error("expected a FROCTAL_E_CONFIG error");
}

describe("renderDomain", () => {
  it("fills placeholders, escaped, injects froctal metadata, and reports memory and vCPUs", () => {
    const template = guestTemplate(96);
    checkTemplate("guest", template);
    const rendered = render({
      ...template,
      xml: GUEST_XML.replace("{{args}}", "{{args}} region={{ env.REGION }}"),
    });
    const domain = parseXml(rendered.xml);
    expect(child(domain, "name")?.text).toBe("froctal.alpha.a1a1a1a1.web-1");
    expect(child(child(domain, "os")!, "cmdline")?.text).toBe(
      "console=ttyS0 froctal.instance=web-1 --port 80 region=eu <west>",
    );
    expect(readOwnership(domain)).toEqual(ownershipOf(spec));
    expect(rendered.xml).not.toContain("t0ken");
    expect(rendered.xml).toContain("/run/froctal/froctal.alpha.a1a1a1a1.web-1.sock");
    expect(rendered).toMatchObject({ memoryKiB: 96 * 1024, vcpus: 1 });
  });

  it("puts its element into the template's own <metadata>, empty or not", () => {
    const other = '<app:x xmlns:app="urn:app"/>';
    for (const metadata of [`<metadata>${other}</metadata>`, "<metadata/>"]) {
      const xml = GUEST_XML.replace("<vcpu>", `${metadata}<vcpu>`);
      const domain = parseXml(render({ ...guestTemplate(), xml }).xml);
      expect(domain.children.filter((c) => c.name === "metadata")).toHaveLength(1);
      expect(readOwnership(domain)?.instanceId).toBe("web-1");
    }
  });

  it("takes <currentMemory> over <memory>, in libvirt's units", () => {
    const xml = GUEST_XML.replace(
      "<vcpu>1</vcpu>",
      "<currentMemory unit='GB'>1</currentMemory><vcpu current='2'>4</vcpu>",
    );
    expect(render({ ...guestTemplate(), xml })).toMatchObject({ memoryKiB: Math.ceil(1e9 / 1024), vcpus: 2 });
  });

  it("refuses a missing env variable, a hard-coded name or uuid, and froctal metadata of the template's own", () => {
    expect(
      configError(() => render({ ...guestTemplate(), xml: GUEST_XML.replace("{{args}}", "{{env.NOPE}}") })).message,
    ).toMatch(/needs \{\{env.NOPE\}\}/);
    const fixedName = GUEST_XML.replace(
      "<name>{{name}}</name>",
      "<name>fixed</name><description>{{name}}</description>",
    );
    expect(configError(() => render({ ...guestTemplate(), xml: fixedName })).message).toMatch(
      /<name>\{\{name\}\}<\/name>/,
    );
    const own = GUEST_XML.replace(
      "<vcpu>",
      '<metadata><f:instance xmlns:f="https://froctal.dev/ns/1" id="x" fleet="alpha" service="web"/></metadata><vcpu>',
    );
    expect(configError(() => render({ ...guestTemplate(), xml: own })).message).toMatch(
      /must not carry froctal metadata/,
    );
    expect(configError(() => render({ ...guestTemplate(), xml: GUEST_XML.replace("</domain>", "") })).message).toMatch(
      /well-formed/,
    );
  });
});

describe("checkTemplate", () => {
  it.each([
    ["an unknown placeholder", { xml: `${GUEST_XML}{{nope}}`, values: guestTemplate().values }, /\{\{nope\}\}/],
    ["the token", { xml: `${GUEST_XML}{{env.FROCTAL_TOKEN}}`, values: guestTemplate().values }, /token never goes/],
    [
      "a value clashing with a built-in",
      { xml: GUEST_XML, values: { ...guestTemplate().values, uuid: "x" } },
      /clashes/,
    ],
    [
      "no {{uuid}}",
      { xml: GUEST_XML.replace("{{uuid}}", "x"), values: guestTemplate().values },
      /does not use \{\{uuid\}\}/,
    ],
    ["a non-finite value", { xml: GUEST_XML, values: { ...guestTemplate().values, memoryMiB: Number.NaN } }, /finite/],
  ])("refuses %s", (_what, template, why) => {
    expect(configError(() => checkTemplate("guest", template)).message).toMatch(why);
  });
});
