import { FroctalError } from "@froctal/primitives";

/**
 * IPv4 addresses as numbers, the guests' pool, and the MACs derived from
 * addresses: pure. A guest's MAC is its address behind `02:00` (locally
 * administered, unicast), so the same address always has the same MAC, across
 * rejoins and manager restarts, and a flow written for it stays right.
 */

/** A dotted quad as an unsigned 32-bit number; undefined if it is not one (no leading zeros, each octet 0..255). */
export function parseIpv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let value = 0;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || String(Number(part)) !== part || Number(part) > 255) return undefined;
    value = value * 256 + Number(part);
  }
  return value;
}

export function formatIpv4(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join(".");
}

/** A unicast host address: not 0.x, 127.x, nor 224.x and above. */
export function isUnicast(value: number): boolean {
  const first = value >>> 24;
  return first !== 0 && first !== 127 && first < 224;
}

export interface Prefix {
  readonly base: number;
  readonly length: number;
}

/** `10.1.0.0/16`: the address with no host bits set and a length of 0..32; undefined if it is not one. */
export function parsePrefix(text: string): Prefix | undefined {
  const match = /^([0-9.]+)\/(\d{1,2})$/.exec(text);
  const base = parseIpv4(match?.[1] ?? "");
  const length = Number(match?.[2]);
  if (match === null || base === undefined || match[2] !== String(length) || length > 32) return undefined;
  if (hostBits(base, length) !== 0) return undefined;
  return { base, length };
}

function hostBits(value: number, length: number): number {
  return length === 32 ? 0 : (value % 2 ** (32 - length)) >>> 0;
}

export function inPrefix(prefix: Prefix, value: number): boolean {
  return value - hostBits(value, prefix.length) === prefix.base;
}

/** `02:00:` and the address's four octets in hex: locally administered (bit 1), unicast (bit 0 clear). */
export function macOf(value: number, first = 0x02, second = 0x00): string {
  const octets = [first, second, value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255];
  return octets.map((octet) => octet.toString(16).padStart(2, "0")).join(":");
}

/** A unicast MAC in lower case (six hex pairs, first octet even, not all zeros); undefined if it is not one. */
export function parseMac(text: string): string | undefined {
  const mac = text.toLowerCase();
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) || mac === "00:00:00:00:00:00") return undefined;
  return (Number.parseInt(mac.slice(0, 2), 16) & 1) === 0 ? mac : undefined;
}

/** A MAC as the number OpenFlow's `load:` takes, `0x02ff00000001`. */
export function macHex(mac: string): string {
  return `0x${mac.replaceAll(":", "")}`;
}

/**
 * The addresses guests are given: `first..last` inside `subnet`, handed out
 * lowest free first. Whatever of the subnet lies outside the range is for
 * virtual IPs, clients and routers the pool never hands out.
 */
export class AddressPool {
  readonly subnet: Prefix;
  readonly first: number;
  readonly last: number;
  readonly #used = new Set<number>();

  constructor(subnet: string, first: string, last: string) {
    const prefix = parsePrefix(subnet);
    if (prefix === undefined || prefix.length < 1 || prefix.length > 30 || !isUnicast(prefix.base)) {
      throw config(`subnet ${JSON.stringify(subnet)} is not a unicast IPv4 prefix of length 1..30 (10.77.0.0/24)`);
    }
    const low = parseIpv4(first);
    const high = parseIpv4(last);
    const broadcast = prefix.base + 2 ** (32 - prefix.length) - 1;
    const host = (value: number | undefined): value is number =>
      value !== undefined && inPrefix(prefix, value) && value !== prefix.base && value !== broadcast;
    if (!host(low) || !host(high) || low > high) {
      throw config(
        `the pool ${first}..${last} is not a range of host addresses of ${subnet} (not its network or broadcast address)`,
      );
    }
    this.subnet = prefix;
    this.first = low;
    this.last = high;
  }

  /** `10.77.0.10/24`: an address with the subnet's prefix length, as `ip address add` takes it. */
  withLength(value: number): string {
    return `${formatIpv4(value)}/${this.subnet.length}`;
  }

  contains(value: number): boolean {
    return value >= this.first && value <= this.last;
  }

  /** The lowest free address of the range, now taken. */
  allocate(who: string): number {
    for (let value = this.first; value <= this.last; value++) {
      if (!this.#used.has(value)) {
        this.#used.add(value);
        return value;
      }
    }
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `${who}: no address is free in the pool ${formatIpv4(this.first)}..${formatIpv4(this.last)} ` +
        `(${this.last - this.first + 1} guests are on the network): widen the pool`,
    );
  }

  /** Takes an address a guest already has (one found on the bridge); false if it is taken already. */
  claim(value: number): boolean {
    if (this.#used.has(value)) return false;
    this.#used.add(value);
    return true;
  }

  release(value: number): void {
    this.#used.delete(value);
  }
}

function config(sentence: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", sentence);
}
