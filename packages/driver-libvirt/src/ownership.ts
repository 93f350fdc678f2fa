import type { LaunchSpec } from "@froctal/manager";
import { child, escapeXml, type XmlElement } from "./xml.js";

/**
 * The XML namespace of froctal's `<metadata>` element. A domain carrying an
 * element of this namespace is froctal's; the attributes say whose.
 */
export const FROCTAL_NS = "https://froctal.dev/ns/1";

/**
 * What a domain's metadata says about the instance it runs: whose it is, and
 * nothing that changes. Written once at create (the binding cannot update
 * metadata) and read back on every listing. The manager's own state keeps the
 * instance's token and committed configuration; a copy here would be stale
 * after the first rollout and is never needed to adopt a domain.
 */
export interface Ownership {
  readonly instanceId: string;
  readonly fleet: string;
  /**
   * The fleet's unique id, which alone proves whose the domain is (two fleets
   * may share a name). Undefined for a domain an earlier driver made, which
   * wrote the name only: such a domain is never adopted nor stopped.
   */
  readonly fleetId: string | undefined;
  readonly service: string;
}

export function ownershipOf(spec: LaunchSpec): Ownership {
  return { instanceId: spec.instanceId, fleet: spec.fleet, fleetId: spec.fleetId, service: spec.service };
}

/** Whether two ownerships name the same instance of the same fleet id; one without a fleet id proves nothing. */
export function sameInstance(a: Ownership, b: Ownership): boolean {
  return a.instanceId === b.instanceId && a.fleetId !== undefined && a.fleetId === b.fleetId;
}

/** The element that goes inside `<metadata>`; one element with attributes, so it reads back in one step. */
export function ownershipElement(o: Ownership): string {
  const fleetId = o.fleetId === undefined ? "" : ` fleet-id="${escapeXml(o.fleetId)}"`;
  return (
    `<froctal:instance xmlns:froctal="${FROCTAL_NS}" id="${escapeXml(o.instanceId)}" fleet="${escapeXml(o.fleet)}"` +
    `${fleetId} service="${escapeXml(o.service)}"/>`
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
 * Other attributes (an earlier driver wrote `token-sha256` and `generation`)
 * are ignored. An element without `fleet-id` (earlier drivers) reads with
 * `fleetId` undefined; an empty one is incomplete.
 */
export function readOwnership(domain: XmlElement): Ownership | undefined {
  const elements = froctalElements(domain);
  const element = elements[0];
  if (elements.length !== 1 || element === undefined || localName(element.name) !== "instance") return undefined;
  const get = (key: string) => element.attributes.get(key);
  const instanceId = get("id");
  const fleet = get("fleet");
  const fleetId = get("fleet-id");
  const service = get("service");
  if (!instanceId || !fleet || fleetId === "" || service === undefined) return undefined;
  return { instanceId, fleet, fleetId, service };
}

function localName(name: string): string {
  return name.slice(name.indexOf(":") + 1);
}
