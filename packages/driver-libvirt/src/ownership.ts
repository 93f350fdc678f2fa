import { createHash } from "node:crypto";
import type { LaunchSpec } from "@froctal/manager";
import { child, escapeXml, type XmlElement } from "./xml.js";

/**
 * The XML namespace of froctal's `<metadata>` element. A domain carrying an
 * element of this namespace is froctal's; the attributes say whose.
 */
export const FROCTAL_NS = "https://froctal.dev/ns/1";

/** What a domain's metadata says about the instance it runs: written at create, read back on every listing. */
export interface Ownership {
  readonly instanceId: string;
  readonly fleet: string;
  readonly service: string;
  /** Hex sha256 of the instance's FROCTAL_TOKEN; empty when the spec had none. Never the token. */
  readonly tokenSha256: string;
  /** The configuration generation the instance was launched with. */
  readonly generation: number;
}

/** The spec variable a launch may carry its configuration generation in; absent means 0. */
export const GENERATION_ENV = "FROCTAL_CONFIG_GENERATION";

export function ownershipOf(spec: LaunchSpec): Ownership {
  const token = spec.env.FROCTAL_TOKEN;
  const generation = Number(spec.env[GENERATION_ENV] ?? 0);
  return {
    instanceId: spec.instanceId,
    fleet: spec.fleet,
    service: spec.service,
    tokenSha256: token === undefined ? "" : createHash("sha256").update(token).digest("hex"),
    generation: Number.isSafeInteger(generation) && generation >= 0 ? generation : 0,
  };
}

/** The element that goes inside `<metadata>`; one element with attributes, so it reads back in one step. */
export function ownershipElement(o: Ownership): string {
  const token = o.tokenSha256 === "" ? "" : ` token-sha256="${escapeXml(o.tokenSha256)}"`;
  return (
    `<froctal:instance xmlns:froctal="${FROCTAL_NS}" id="${escapeXml(o.instanceId)}" fleet="${escapeXml(o.fleet)}"` +
    ` service="${escapeXml(o.service)}"${token} generation="${o.generation}"/>`
  );
}

/**
 * Every froctal element in a domain's `<metadata>`, whatever prefix libvirt or
 * a person gave the namespace. Zero means the domain is not froctal's.
 */
export function froctalElements(domain: XmlElement): XmlElement[] {
  const metadata = child(domain, "metadata");
  if (metadata === undefined) return [];
  return metadata.children.filter((element) => {
    const colon = element.name.indexOf(":");
    const declared =
      colon === -1 ? element.attributes.get("xmlns") : element.attributes.get(`xmlns:${element.name.slice(0, colon)}`);
    return declared === FROCTAL_NS;
  });
}

/**
 * Reads the ownership back from a parsed domain. Undefined for a domain with no
 * froctal metadata, and for one whose froctal element is incomplete or
 * repeated: a domain that does not say clearly whose it is, is nobody's.
 */
export function readOwnership(domain: XmlElement): Ownership | undefined {
  const elements = froctalElements(domain);
  const element = elements[0];
  if (elements.length !== 1 || element === undefined || localName(element.name) !== "instance") return undefined;
  const get = (key: string) => element.attributes.get(key);
  const instanceId = get("id");
  const fleet = get("fleet");
  const service = get("service");
  const generation = Number(get("generation") ?? "0");
  if (!instanceId || !fleet || service === undefined || !Number.isSafeInteger(generation) || generation < 0) {
    return undefined;
  }
  return { instanceId, fleet, service, tokenSha256: get("token-sha256") ?? "", generation };
}

function localName(name: string): string {
  return name.slice(name.indexOf(":") + 1);
}
