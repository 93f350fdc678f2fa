import type { NetworkSpec } from "@froctal/manager";
import { describe, expect, it } from "vitest";
import { AddressPool } from "./addresses.js";
import { deriveState, type FlowContext, type NetworkGuest } from "./flows.js";

const guest = (instanceId: string, host: number, ofport: number): [string, NetworkGuest] => [
  instanceId,
  { instanceId, ofport, address: 0x0a4d0000 + host, mac: `02:00:0a:4d:00:${host.toString(16).padStart(2, "0")}` },
];
const context = (over: Partial<FlowContext> = {}): FlowContext => ({
  owner: { cookie: 0xf0c7a1n, groupIds: { min: 1000, max: 1001 } },
  zone: 7,
  serviceMac: "02:ff:00:00:00:01",
  pool: new AddressPool("10.77.0.0/24", "10.77.0.10", "10.77.0.99"),
  guests: new Map([guest("web-1", 10, 2), guest("web-2", 11, 3), guest("web-3", 12, 4)]),
  groupIds: new Map(),
  strict: true,
  ...over,
});
const web = (...backends: string[]) => ({ vip: "10.77.0.100", port: 8080, backends });

describe("deriveState", () => {
  it("gives each backend the bucket of its host number, sorted, deduplicated", () => {
    const { state } = deriveState({ services: { web: web("web-3", "web-1", "web-3") } }, context());
    expect(state.groups).toEqual([
      {
        id: 1000,
        buckets: [
          { id: 10, actions: "ct(commit,table=2,zone=7,nat(dst=10.77.0.10:8080))" },
          { id: 12, actions: "ct(commit,table=2,zone=7,nat(dst=10.77.0.12:8080))" },
        ],
      },
    ]);
    expect(state.flows.filter((flow) => flow.table === 1 && flow.priority === 100)).toEqual([
      { table: 1, priority: 100, match: "ct_state=+new+trk,tcp,nw_dst=10.77.0.100,tp_dst=8080", actions: "group:1000" },
    ]);
  });

  it("keeps a service's group id while it exists; a new one gets the lowest free id, none past the range", () => {
    const first = deriveState({ services: { web: web("web-1") } }, context());
    const spec: NetworkSpec = { services: { api: { ...web("web-2"), port: 9090 }, web: web("web-1") } };
    const second = deriveState(spec, context({ groupIds: first.groupIds }));
    expect([...second.groupIds]).toEqual([
      ["web", 1000],
      ["api", 1001],
    ]);
    const three = { ...spec.services, db: { ...web(), port: 5432 } };
    expect(() => deriveState({ services: three }, context({ groupIds: second.groupIds }))).toThrow(
      "FROCTAL_E_CONFIG: 3 services are more than the group ids 1000..1001 hold",
    );
  });

  it("answers ARP once per VIP and refuses two services on one VIP:port", () => {
    const spec: NetworkSpec = { services: { a: web("web-1"), b: { ...web("web-2"), port: 9090 } } };
    const { state } = deriveState(spec, context());
    expect(state.flows.filter((flow) => flow.match.startsWith("arp")).length).toBe(1);
    expect(() => deriveState({ services: { a: web(), b: web() } }, context())).toThrow(
      "FROCTAL_E_CONFIG: service b: 10.77.0.100:8080 is service a's already",
    );
  });

  it("writes routes in order, first highest; between generations leaves out instances no longer on the network", () => {
    const spec: NetworkSpec = {
      services: { web: web("web-1", "web-9") },
      routes: [
        { prefix: "10.9.1.0/24", via: "web-2" },
        { prefix: "0.0.0.0/0", via: "web-9" },
        { prefix: "10.9.0.0/16", via: "web-1" },
      ],
    };
    expect(() => deriveState(spec, context())).toThrow(
      "FROCTAL_E_CONFIG: service web: backend web-9 is not on the network: only a guest that joined it can be one",
    );
    const { state } = deriveState(spec, context({ strict: false }));
    expect(state.flows.filter((flow) => flow.table === 2 && flow.priority < 39_999)).toEqual([
      { table: 2, priority: 0, match: "", actions: "NORMAL" },
      { table: 2, priority: 30000, match: "ip,nw_dst=10.9.1.0/24", actions: "mod_dl_dst:02:00:0a:4d:00:0b,output:3" },
      { table: 2, priority: 29998, match: "ip,nw_dst=10.9.0.0/16", actions: "mod_dl_dst:02:00:0a:4d:00:0a,output:2" },
    ]);
    expect(state.groups[0]?.buckets.map((bucket) => bucket.id)).toEqual([10]);
  });
});
