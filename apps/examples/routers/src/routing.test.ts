import type { FleetView, InstanceView, ServiceView } from "@froctal/manager";
import { describe, expect, it } from "vitest";
import { routingTable, switchRoutes } from "./routing.js";

/** A router instance with these interface addresses, as the policy sees it. */
function router(id: string, addresses: Record<string, string>): InstanceView {
  const devices = new Map(
    Object.entries(addresses).map(([nic, address]) => [nic, { id: nic, kind: "nic", properties: { address } }]),
  );
  return { id, devices } as unknown as InstanceView;
}

function fleetOf(services: Record<string, InstanceView[]>): FleetView {
  return {
    service: (name: string) => ({ name, ready: services[name] ?? [] }) as unknown as ServiceView,
    instance: () => undefined,
  };
}

const SERVICES = ["router-a", "router-b", "router-c"];

describe("routingTable", () => {
  const a = router("router-a-1", { eth0: "10.0.0.1/24", eth1: "10.1.0.1/24" });
  const b = router("router-b-2", { eth0: "10.0.0.2/24", eth1: "10.2.0.1/24" });
  const c = router("router-c-3", { eth0: "10.0.0.3/24" });
  const fleet = fleetOf({ "router-a": [a], "router-b": [b], "router-c": [c] });

  it("routes to every peer network it is not on, via that peer's address on a shared network", () => {
    expect(routingTable(fleet, c, SERVICES)).toEqual({
      routes: [
        { prefix: "10.1.0.0/24", via: "router-a-1", gateway: "10.0.0.1" },
        { prefix: "10.2.0.0/24", via: "router-b-2", gateway: "10.0.0.2" },
      ],
    });
    expect(routingTable(fleet, a, SERVICES).routes.map((r) => r.prefix)).toEqual(["10.2.0.0/24"]);
  });

  it("goes via a peer it shares a network with, then the smaller id, when two peers have a network", () => {
    const d = router("router-b-0", { eth9: "10.1.0.9/24" }); // no shared network with c
    const e = router("router-b-9", { eth0: "10.0.0.9/24", eth1: "10.1.0.2/24" });
    const both = fleetOf({ "router-a": [a], "router-b": [d, e], "router-c": [c] });
    expect(routingTable(both, c, SERVICES).routes).toEqual([
      { prefix: "10.1.0.0/24", via: "router-a-1", gateway: "10.0.0.1" },
    ]);
  });

  it("routes without a gateway to a peer it shares no network with, and ignores what is not an interface", () => {
    const lone = router("router-a-1", { eth0: "192.168.0.1/24", bad: "nonsense" });
    const t = routingTable(fleetOf({ "router-a": [lone], "router-c": [c] }), c, SERVICES);
    expect(t.routes).toEqual([{ prefix: "192.168.0.0/24", via: "router-a-1" }]);
  });
});

describe("switchRoutes", () => {
  it("sends every LAN to the router that has it (the smaller id when two do), never the transit network", () => {
    const a = router("router-a-1", { eth0: "10.0.0.1/24", eth1: "10.1.0.1/24" });
    const b = router("router-b-2", { eth0: "10.0.0.2/24", eth1: "10.2.0.1/24", eth2: "10.1.0.2/24" });
    const c = router("router-c-3", { eth0: "10.0.0.3/24" });
    const fleet = fleetOf({ "router-a": [a], "router-b": [b], "router-c": [c] });
    expect(switchRoutes(fleet, SERVICES, "10.0.0.0/24")).toEqual({
      routes: [
        { prefix: "10.1.0.0/24", via: "router-a-1" },
        { prefix: "10.2.0.0/24", via: "router-b-2" },
      ],
    });
    expect(switchRoutes(fleetOf({}), SERVICES, "10.0.0.0/24")).toEqual({ routes: [] });
  });
});
