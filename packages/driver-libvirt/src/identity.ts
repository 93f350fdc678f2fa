import { createHash } from "node:crypto";

/** The UUIDv5 namespace froctal derives domain UUIDs in (itself the v5 UUID of FROCTAL_NS in the URL namespace). */
const UUID_NAMESPACE = "bebbf52a-1d0d-5d56-86ec-d401efe00d8f";

/** A domain's name and UUID, both derived from (fleet, fleet id, instance id) alone. */
export interface DomainIdentity {
  readonly name: string;
  readonly uuid: string;
}

const FLEET = /^[A-Za-z0-9_-]+$/;
const INSTANCE = /^[A-Za-z0-9_.-]+$/;
/** The part of the fleet id a readable name carries: enough to tell apart two fleets of one name at a glance. */
const TAG = /^[A-Za-z0-9]{8}/;
/** Short enough that `<channelDir>/<name>.sock` stays within a unix socket path (108 bytes). */
const MAX_READABLE_NAME = 64;

/**
 * Deterministic, so that a start repeated after a timeout or a manager crash
 * names the same domain and libvirt refuses the duplicate on that host. The
 * UUID comes from the fleet id, which is unique, so two fleets of one name
 * never make the same domain. The readable form
 * `froctal.<fleet>.<first 8 characters of the fleet id>.<instance>` is
 * unambiguous because neither fleet nor tag has a dot; anything else (or
 * anything long) falls back to the UUID. Two fleets of one name whose ids
 * share a tag (one chance in 2^32) clash on the name: libvirt refuses the
 * second create, and the driver reports the domain as not its instance's.
 */
export function domainIdentity(fleet: string, fleetId: string, instanceId: string): DomainIdentity {
  const uuid = uuidV5(`${fleetId}\u0000${instanceId}`);
  const tag = TAG.exec(fleetId)?.[0];
  const readable = `froctal.${fleet}.${tag}.${instanceId}`;
  const name =
    FLEET.test(fleet) && tag !== undefined && INSTANCE.test(instanceId) && readable.length <= MAX_READABLE_NAME
      ? readable
      : `froctal-${uuid}`;
  return { name, uuid };
}

/** RFC 9562 version 5 (SHA-1, name-based). */
export function uuidV5(name: string, namespace: string = UUID_NAMESPACE): string {
  const ns = Buffer.from(namespace.replace(/-/g, ""), "hex");
  const bytes = createHash("sha1").update(ns).update(name, "utf8").digest().subarray(0, 16);
  bytes[6] = (bytes[6]! & 0x0f) | 0x50;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString("hex");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
