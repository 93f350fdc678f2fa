import { describe, expect, it } from "vitest";
import { contains, parseAddress, parseCidr } from "./cidr.js";

describe("cidr", () => {
  it("finds the network of an interface address", () => {
    expect(parseCidr("10.1.0.7/24")).toEqual({ address: "10.1.0.7", bits: 24, prefix: "10.1.0.0/24" });
    expect(parseCidr("10.1.200.1/17")?.prefix).toBe("10.1.128.0/17");
    expect(parseCidr("192.168.1.1/32")?.prefix).toBe("192.168.1.1/32");
    expect(parseCidr("255.255.255.255/0")?.prefix).toBe("0.0.0.0/0");
  });

  it("refuses what is not an IPv4 prefix", () => {
    for (const bad of [
      "10.1.0.7",
      "10.1.0/24",
      "10.1.0.256/24",
      "10.1.0.1/33",
      "10.1.0.1/",
      "a.b.c.d/8",
      "10.1.0.1/2x",
    ]) {
      expect(parseCidr(bad), bad).toBeUndefined();
    }
    expect(parseAddress("1.2.3.4.5")).toBeUndefined();
  });

  it("says whether an address is on a network", () => {
    expect(contains("10.0.0.0/24", "10.0.0.3")).toBe(true);
    expect(contains("10.0.0.0/24", "10.0.1.3")).toBe(false);
    expect(contains("0.0.0.0/0", "203.0.113.9")).toBe(true);
    expect(contains("not a prefix", "10.0.0.1")).toBe(false);
  });
});
