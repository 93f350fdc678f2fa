import { createHash } from "node:crypto";
import { FroctalError } from "@froctal/primitives";

/** The guest's end of its veth, inside its own namespace: every guest sees the same name. */
export const GUEST_INTERFACE = "eth0";

/** What one guest is plugged in with. */
export interface GuestPortSpec {
  /** The instance; the namespace's and the veth's names are derived from it (see guestPortNames). */
  readonly instanceId: string;
  /** The Open vSwitch bridge the host's end of the veth becomes a port of. */
  readonly bridge: string;
  /** The guest's IPv4 address with its prefix, `10.0.0.2/24`. */
  readonly address: string;
  /** The guest's MAC (unicast, `02:00:00:00:00:01`); default: the kernel's random one. */
  readonly mac?: string;
  /** Written on the bridge port's Interface record in the same transaction as the port (`external_ids`), to find it again. */
  readonly externalIds?: Readonly<Record<string, string>>;
}

/** The names one instance's plug uses on this host. */
export interface GuestPortNames {
  /** The network namespace, `froctal-<hash>` (`ip netns`). */
  readonly namespace: string;
  /** The host's end of the veth and the bridge port's name, `fv<hash>`: 14 characters, under Linux's 15. */
  readonly hostInterface: string;
}

/**
 * Derives the names from the instance id through a hash, never by pasting it
 * in: an id may be long or hold any character, and an interface name is at
 * most 15 bytes with no `/` or space. 48 bits of SHA-256 make a collision
 * between two instances of one host negligible; `scope` keeps two managers
 * (or two test files) on one host apart.
 */
export function guestPortNames(scope: string, instanceId: string): GuestPortNames {
  const hash = createHash("sha256").update(`${scope}\n${instanceId}`).digest("hex").slice(0, 12);
  return { namespace: `froctal-${hash}`, hostInterface: `fv${hash}` };
}

/** The spec checked, everything `ip` and `ovs-vsctl` would otherwise refuse halfway, with the MAC in lower case. */
export function checkGuestPortSpec(spec: GuestPortSpec): GuestPortSpec {
  if (spec.instanceId.length === 0) throw config("a guest port needs an instance id; this one is empty");
  const who = `instance ${spec.instanceId}`;
  if (!/^[A-Za-z0-9_.:-]{1,15}$/.test(spec.bridge) || spec.bridge === "." || spec.bridge === "..") {
    throw config(
      `${who}: bridge ${JSON.stringify(spec.bridge)} is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)`,
    );
  }
  checkAddress(who, spec.address);
  if (spec.mac === undefined) return spec;
  const mac = spec.mac.toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac)) {
    throw config(
      `${who}: MAC ${JSON.stringify(spec.mac)} is not six hex pairs separated by colons (02:00:00:00:00:01)`,
    );
  }
  // The low bit of the first octet marks a group address, which no interface may have.
  if ((Number.parseInt(mac.slice(0, 2), 16) & 1) === 1 || mac === "00:00:00:00:00:00") {
    throw config(`${who}: MAC ${mac} is not a unicast address (its first octet must be even, and not all zeros)`);
  }
  return { ...spec, mac };
}

function checkAddress(who: string, address: string): void {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(address);
  const octets = match?.slice(1, 5).map(Number) ?? [];
  const prefix = Number(match?.[5]);
  const canonical = match?.slice(1, 6).every((part) => part === String(Number(part))) ?? false;
  if (match === null || !canonical || octets.some((octet) => octet > 255) || prefix < 1 || prefix > 32) {
    throw config(
      `${who}: address ${JSON.stringify(address)} is not an IPv4 address with a prefix of 1 to 32 (10.0.0.2/24)`,
    );
  }
  const [first = 0] = octets;
  if (first === 0 || first === 127 || first >= 224) {
    throw config(`${who}: address ${address} is not a unicast host address (0.x, 127.x and 224.x and above are not)`);
  }
}

function config(sentence: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", sentence);
}
