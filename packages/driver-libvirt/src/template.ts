import type { LaunchSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import type { DomainIdentity } from "./identity.js";
import { froctalElements, type Ownership, ownershipElement, readOwnership } from "./ownership.js";
import { child, escapeXml, parseXml, type XmlElement } from "./xml.js";

/**
 * A service's domain: libvirt domain XML with `{{placeholders}}`. Built in:
 * `{{name}}` and `{{uuid}}` (both required, so the driver can find the domain
 * again), `{{instanceId}}`, `{{fleet}}`, `{{service}}`, `{{channelPath}}` (the
 * host side of the guest's virtio-serial channel), `{{args}}` (the spec's args,
 * space-separated) and `{{env.NAME}}` (a variable of the spec's env; never
 * FROCTAL_TOKEN). Everything else comes from `values`. Every value is
 * XML-escaped; nothing is evaluated.
 */
export interface DomainTemplate {
  readonly xml: string;
  /** The template's own placeholders: `{ memoryMiB: 256, kernel: "/srv/guest/vmlinuz" }`. */
  readonly values?: Readonly<Record<string, string | number>>;
}

/** A domain ready for `domainCreateXML`, with what placement needs to know about it. */
export interface RenderedDomain {
  readonly xml: string;
  /** What the guest gets at boot: `<currentMemory>`, else `<memory>`, in KiB. */
  readonly memoryKiB: number;
  readonly vcpus: number;
}

export interface RenderContext {
  readonly spec: LaunchSpec;
  readonly identity: DomainIdentity;
  readonly channelPath: string;
  readonly ownership: Ownership;
}

/** A spec's image names its template; a command (the process driver's) names none. Not retryable: no attempt mends it. */
export function commandRefused(spec: LaunchSpec & { readonly command: readonly string[] }): FroctalError {
  return new FroctalError(
    "FROCTAL_E_CONFIG",
    `instance ${spec.instanceId} of service ${spec.service} gives a command (${spec.command[0]}); the libvirt driver runs domains from templates named by an image, not commands: run this service on the process driver`,
  );
}

const BUILT_IN = new Set(["name", "uuid", "instanceId", "fleet", "service", "channelPath", "args"]);
const PLACEHOLDER = /\{\{(.*?)\}\}/g;
const KEY = /^[A-Za-z][A-Za-z0-9_]*$/;
const ENV_KEY = /^env\.([A-Za-z_][A-Za-z0-9_]*)$/;

/** Refuses, when the driver is created, a template that could never render: an unknown placeholder, a clash, no name or uuid. */
export function checkTemplate(image: string, template: DomainTemplate): void {
  const values = template.values ?? {};
  for (const [key, value] of Object.entries(values)) {
    if (!KEY.test(key) || BUILT_IN.has(key)) {
      throw configError(image, `has a value named "${key}", which is not a plain name or clashes with a built-in`);
    }
    if (typeof value === "number" ? !Number.isFinite(value) : typeof value !== "string") {
      throw configError(image, `has a value "${key}" that is neither a string nor a finite number`);
    }
  }
  const used = new Set<string>();
  for (const match of template.xml.matchAll(PLACEHOLDER)) {
    const key = match[1]!.trim();
    used.add(key);
    if (BUILT_IN.has(key) || Object.hasOwn(values, key)) continue;
    const env = ENV_KEY.exec(key);
    if (env === null) throw configError(image, `uses {{${key}}}, which is neither built in nor among its values`);
    if (env[1] === "FROCTAL_TOKEN")
      throw configError(image, "uses {{env.FROCTAL_TOKEN}}; a token never goes into domain XML");
  }
  for (const required of ["name", "uuid"]) {
    if (!used.has(required))
      throw configError(image, `does not use {{${required}}} (write <${required}>{{${required}}}</${required}>)`);
  }
}

/**
 * Fills in the placeholders, puts froctal's ownership element into
 * `<metadata>` (the template does not write it, so it cannot get it wrong),
 * then reads the result back as libvirt would: the name, UUID and ownership
 * must come out as intended, else the start fails here and not on a host.
 */
export function renderDomain(image: string, template: DomainTemplate, context: RenderContext): RenderedDomain {
  const { spec, identity } = context;
  const builtIn: Record<string, string> = {
    name: identity.name,
    uuid: identity.uuid,
    instanceId: spec.instanceId,
    fleet: spec.fleet,
    service: spec.service,
    channelPath: context.channelPath,
    args: (spec.args ?? []).join(" "),
  };
  const values = template.values ?? {};
  const filled = template.xml.replace(PLACEHOLDER, (_whole, raw: string) => {
    const key = raw.trim();
    const env = ENV_KEY.exec(key);
    let value: string | number | undefined;
    if (Object.hasOwn(builtIn, key)) value = builtIn[key];
    else if (Object.hasOwn(values, key)) value = values[key];
    else if (env !== null && env[1] !== "FROCTAL_TOKEN") value = spec.env[env[1]!];
    if (value === undefined) {
      throw configError(image, `needs {{${key}}}, which instance ${spec.instanceId} does not provide`);
    }
    return escapeXml(String(value));
  });
  const xml = withOwnership(filled, ownershipElement(context.ownership));
  let domain: XmlElement;
  try {
    domain = parseXml(xml);
  } catch (cause) {
    throw configError(image, `does not render to well-formed XML: ${(cause as Error).message}`, cause);
  }
  if (domain.name !== "domain") throw configError(image, `renders a <${domain.name}>, not a <domain>`);
  if (child(domain, "name")?.text.trim() !== identity.name) {
    throw configError(image, "must have exactly <name>{{name}}</name> as the domain's name");
  }
  if (child(domain, "uuid")?.text.trim().toLowerCase() !== identity.uuid) {
    throw configError(image, "must have exactly <uuid>{{uuid}}</uuid> as the domain's uuid");
  }
  const owner = readOwnership(domain);
  if (froctalElements(domain).length !== 1 || owner === undefined || !sameOwnership(owner, context.ownership)) {
    throw configError(image, "must not carry froctal metadata of its own; the driver writes it");
  }
  return { xml, memoryKiB: memoryKiB(image, domain), vcpus: vcpus(image, domain) };
}

/** Inside the template's `<metadata>` if it has one (libvirt reads only the first), else as the domain's first child. */
function withOwnership(xml: string, element: string): string {
  const open = /<metadata\s*>/.exec(xml);
  if (open !== null)
    return xml.slice(0, open.index + open[0].length) + element + xml.slice(open.index + open[0].length);
  const empty = /<metadata\s*\/>/.exec(xml);
  if (empty !== null)
    return `${xml.slice(0, empty.index)}<metadata>${element}</metadata>${xml.slice(empty.index + empty[0].length)}`;
  const root = /<domain\b[^>]*>/.exec(xml);
  if (root === null) return xml; // parsing will say what is wrong
  const at = root.index + root[0].length;
  return `${xml.slice(0, at)}<metadata>${element}</metadata>${xml.slice(at)}`;
}

function sameOwnership(a: Ownership, b: Ownership): boolean {
  return a.instanceId === b.instanceId && a.fleet === b.fleet && a.fleetId === b.fleetId && a.service === b.service;
}

/** libvirt's memory units, in bytes. */
const UNITS: Record<string, number> = {
  b: 1,
  bytes: 1,
  KB: 1e3,
  k: 1024,
  KiB: 1024,
  MB: 1e6,
  M: 2 ** 20,
  MiB: 2 ** 20,
  GB: 1e9,
  G: 2 ** 30,
  GiB: 2 ** 30,
  TB: 1e12,
  T: 2 ** 40,
  TiB: 2 ** 40,
};

function memoryKiB(image: string, domain: XmlElement): number {
  const element = child(domain, "currentMemory") ?? child(domain, "memory");
  if (element === undefined) throw configError(image, "has no <memory>; placement needs to know what a guest takes");
  const unit = element.attributes.get("unit") ?? "KiB";
  const scale = UNITS[unit];
  const amount = Number(element.text.trim());
  if (scale === undefined || !Number.isSafeInteger(amount) || amount <= 0) {
    throw configError(image, `has a <${element.name}> of "${element.text.trim()} ${unit}", not a positive amount`);
  }
  return Math.ceil((amount * scale) / 1024);
}

function vcpus(image: string, domain: XmlElement): number {
  const element = child(domain, "vcpu");
  if (element === undefined) return 1;
  const count = Number(element.attributes.get("current") ?? element.text.trim());
  if (!Number.isSafeInteger(count) || count <= 0) throw configError(image, "has a <vcpu> that is not a positive count");
  return count;
}

function configError(image: string, sentence: string, cause?: unknown): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", `the domain template "${image}" ${sentence}`, { cause });
}
