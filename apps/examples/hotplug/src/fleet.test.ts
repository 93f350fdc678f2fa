import type { InstanceView } from "@froctal/manager";
import { describe, expect, it } from "vitest";
import fleet, { fastestNic } from "./fleet.js";

const nics = (speeds: Record<string, string>, kind = "nic"): InstanceView["devices"] =>
  new Map(Object.entries(speeds).map(([id, speed_mbps]) => [id, { id, kind, properties: { speed_mbps } }]));

describe("fastestNic", () => {
  it("picks the fastest NIC, the smaller id among equals, null when there is none", () => {
    expect(fastestNic(nics({ eth0: "1000", eth1: "10000", eth2: "100" }))).toBe("eth1");
    expect(fastestNic(nics({ eth1: "1000", eth0: "1000" }))).toBe("eth0");
    expect(fastestNic(nics({}))).toBeNull();
    expect(fastestNic(nics({ eth0: "fast" }))).toBeNull();
    expect(fastestNic(nics({ disk0: "9000" }, "disk"))).toBeNull();
  });

  it("is the guest's configuration", () => {
    const self = { devices: nics({ eth0: "1000", eth1: "10000" }) } as unknown as InstanceView;
    expect(fleet.services.guest.config?.({} as never, self)).toEqual({ uplink: "eth1" });
  });
});
