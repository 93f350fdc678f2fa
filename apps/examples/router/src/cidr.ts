/**
 * IPv4 addresses and prefixes, as far as the router example needs them. The
 * fleet policy and the guest share these so "the prefix of an interface"
 * means the same thing on both sides of the wire.
 */

export interface Cidr {
  /** The address as written (the interface's own address for an interface). */
  readonly address: string;
  readonly bits: number;
  /** The network the address is on, as `a.b.c.d/bits`. */
  readonly prefix: string;
}

const DOTTED = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** The address as a 32-bit unsigned number, or undefined if it is not a dotted quad. */
export function parseAddress(text: string): number | undefined {
  const m = DOTTED.exec(text);
  if (m === null) return undefined;
  let n = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255) return undefined;
    n = n * 256 + octet;
  }
  return n;
}

export function formatAddress(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");
}

/** `10.1.0.7/24` -> { address: "10.1.0.7", bits: 24, prefix: "10.1.0.0/24" }; undefined if malformed. */
export function parseCidr(text: string): Cidr | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  const n = parseAddress(address);
  if (n === undefined || !/^\d{1,2}$/.test(bitsText)) return undefined;
  const bits = Number(bitsText);
  if (bits > 32) return undefined;
  return { address, bits, prefix: `${formatAddress(network(n, bits))}/${bits}` };
}

/** Whether `address` lies in `prefix` (both as text); false when either is malformed. */
export function contains(prefix: string, address: string): boolean {
  const p = parseCidr(prefix);
  const a = parseAddress(address);
  if (p === undefined || a === undefined) return false;
  return network(a, p.bits) === parseAddress(p.prefix.slice(0, p.prefix.indexOf("/")));
}

function network(n: number, bits: number): number {
  // >>> 0 keeps the result unsigned; a shift by 32 is a shift by 0 in JS, hence the special case.
  return bits === 0 ? 0 : (n & (~0 << (32 - bits))) >>> 0;
}
