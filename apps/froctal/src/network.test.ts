import { describe, expect, test } from "vitest";
import { layout, parseNetwork } from "./network.js";

describe("--network", () => {
  test("lays a subnet out: the manager first, VIPs and clients up to the 63rd, the guests from the 64th", () => {
    expect(layout("10.77.0.0/24")).toEqual({
      gateway: "10.77.0.1",
      prefix: 24,
      pool: { first: "10.77.0.64", last: "10.77.0.254" },
    });
    expect(layout("172.16.0.0/16")).toEqual({
      gateway: "172.16.0.1",
      prefix: 16,
      pool: { first: "172.16.0.64", last: "172.16.255.254" },
    });
    expect(layout("10.0.0.128/25")).toEqual({
      gateway: "10.0.0.129",
      prefix: 25,
      pool: { first: "10.0.0.192", last: "10.0.0.254" },
    });
    for (const bad of ["10.77.0.0/26", "10.77.0.1/24", "10.77.0.0/7", "300.0.0.0/24", "10.77.0.0", "x/24"]) {
      expect(layout(bad)).toBeUndefined();
    }
  });

  test("takes ovs:BRIDGE with the default subnet, or ovs:BRIDGE,SUBNET", () => {
    expect(parseNetwork("ovs:froctal0")).toEqual({ bridge: "froctal0", subnet: "10.77.0.0/24" });
    expect(parseNetwork("ovs:br_1,192.168.50.0/24")).toEqual({ bridge: "br_1", subnet: "192.168.50.0/24" });
    expect(() => parseNetwork("ovs:")).toThrow("has a bridge name that is not 1 to 15 letters");
  });
});
