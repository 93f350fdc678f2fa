import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { AddressPool, formatIpv4, inPrefix, macOf, parseIpv4, parseMac, parsePrefix } from "./addresses.js";

describe("addresses", () => {
  it("reads dotted quads and prefixes, refusing what is not one", () => {
    expect(parseIpv4("10.77.0.100")).toBe(0x0a4d0064);
    expect(formatIpv4(0xc0a80101)).toBe("192.168.1.1");
    expect(["10.0.0", "10.0.0.256", "10.0.0.01", "a.b.c.d", ""].map(parseIpv4)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    expect(parsePrefix("10.1.0.0/16")).toEqual({ base: 0x0a010000, length: 16 });
    expect(parsePrefix("0.0.0.0/0")).toEqual({ base: 0, length: 0 });
    expect(["10.1.0.1/16", "10.1.0.0/33", "10.1.0.0", "10.1.0.0/016"].map(parsePrefix)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    const prefix = parsePrefix("10.1.0.0/16");
    if (prefix === undefined) throw new Error("no prefix");
    expect([inPrefix(prefix, 0x0a01ffff), inPrefix(prefix, 0x0a020000)]).toEqual([true, false]);
  });

  it("derives a locally administered unicast MAC from an address", () => {
    expect(macOf(0x0a4d000a)).toBe("02:00:0a:4d:00:0a");
    expect(parseMac("02:FF:00:00:00:01")).toBe("02:ff:00:00:00:01");
    expect([parseMac("01:00:00:00:00:01"), parseMac("00:00:00:00:00:00"), parseMac("02:00:00:00:01")]).toEqual([
      undefined,
      undefined,
      undefined,
    ]);
  });

  it("hands out the lowest free address of the pool, takes back what is released, and says when it is full", () => {
    const pool = new AddressPool("10.77.0.0/24", "10.77.0.10", "10.77.0.11");
    expect(pool.withLength(pool.allocate("a"))).toBe("10.77.0.10/24");
    expect(pool.allocate("b")).toBe(0x0a4d000b);
    expect(() => pool.allocate("instance c")).toThrow(
      "FROCTAL_E_CONFIG: instance c: no address is free in the pool 10.77.0.10..10.77.0.11 (2 guests are on the network): widen the pool",
    );
    pool.release(0x0a4d000a);
    expect(pool.claim(0x0a4d000a)).toBe(true);
    expect(pool.claim(0x0a4d000a)).toBe(false);
  });

  it("refuses a pool that is not a range of host addresses of its subnet", () => {
    const refusal = (subnet: string, first: string, last: string) => {
      try {
        new AddressPool(subnet, first, last);
      } catch (error) {
        return error instanceof FroctalError ? `${error.code} ${error.sentence}` : String(error);
      }
      return "accepted";
    };
    expect(refusal("10.77.0.0/24", "10.77.0.0", "10.77.0.9")).toBe(
      "FROCTAL_E_CONFIG the pool 10.77.0.0..10.77.0.9 is not a range of host addresses of 10.77.0.0/24 (not its network or broadcast address)",
    );
    expect(refusal("10.77.0.0/24", "10.77.0.20", "10.77.0.10")).toContain("is not a range of host addresses");
    expect(refusal("10.77.0.0/24", "10.77.0.10", "10.77.1.10")).toContain("is not a range of host addresses");
    expect(refusal("10.77.0.1/24", "10.77.0.10", "10.77.0.20")).toBe(
      'FROCTAL_E_CONFIG subnet "10.77.0.1/24" is not a unicast IPv4 prefix of length 1..30 (10.77.0.0/24)',
    );
  });
});
