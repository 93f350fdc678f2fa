import type { InstanceView } from "@froctal/manager";
import { describe, expect, it } from "vitest";
import fleet, { uplinkOf } from "./fleet.js";

const devices = (ids: readonly string[], kind = "nic"): InstanceView["devices"] =>
  new Map(ids.map((id) => [id, { id, kind, properties: { mac: "52:54:00:00:00:01", operstate: "down" } }]));

describe("uplinkOf", () => {
  it("picks the first NIC by name, null while there is none", () => {
    expect(uplinkOf(devices(["eth1", "eth0"]))).toBe("eth0");
    expect(uplinkOf(devices([]))).toBeNull();
    expect(uplinkOf(devices(["vda"], "disk"))).toBeNull();
  });

  it("is each VM's configuration, and the guest's load average is what scale-in weighs", () => {
    const self = { devices: devices(["eth0"]) } as unknown as InstanceView;
    expect(fleet.services.vm.config?.({} as never, self)).toEqual({ uplink: "eth0" });
    expect(fleet.services.vm.loadMetric).toBe("load1");
  });
});
