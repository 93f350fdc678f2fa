import { describe, expect, it } from "vitest";
import { parseFlowDump, parseFlowMods, parseGroupDump } from "./parse.js";

// Lines as ovs-ofctl 3.1 printed them on this machine.
describe("parse", () => {
  it("reads dump-flows lines: cookie and table 0 unprinted, default priority, what this adapter never writes", () => {
    const text = [
      "OFPST_FLOW reply (OF1.5) (xid=0x2):",
      " cookie=0x2a, table=1, priority=5,ip,nw_dst=10.0.0.2 actions=LOCAL",
      " priority=0 actions=NORMAL",
      " cookie=0x1, idle_timeout=10, tcp actions=drop",
      " cookie=0xffffffffffffffff, actions=drop",
      "",
    ].join("\n");
    expect(parseFlowDump(text)).toEqual([
      { cookie: 0x2an, table: 1, priority: 5, match: "ip,nw_dst=10.0.0.2", actions: "LOCAL", extra: "" },
      { cookie: 0n, table: 0, priority: 0, match: "", actions: "NORMAL", extra: "" },
      { cookie: 1n, table: 0, priority: 32768, match: "tcp", actions: "drop", extra: "idle_timeout=10" },
      { cookie: 0xffffffffffffffffn, table: 0, priority: 32768, match: "", actions: "drop", extra: "" },
    ]);
  });

  it("reads dump-groups lines: weight 1 unprinted, empty groups, other types", () => {
    const text = [
      "OFPST_GROUP_DESC reply (OF1.5) (xid=0x2):",
      " group_id=8,type=select,selection_method=hash,fields(ip_src,tcp_src),bucket=bucket_id:1,weight:2,actions=LOCAL,bucket=bucket_id:2,actions=set_field:02:00:00:00:00:03->eth_dst,LOCAL",
      " group_id=9,type=select,selection_method=hash,fields(ip_src,tcp_src)",
      " group_id=500,type=all,bucket=bucket_id:0,actions=LOCAL",
    ].join("\n");
    expect(parseGroupDump(text)).toEqual([
      {
        id: 8,
        type: "select",
        properties: "selection_method=hash,fields(ip_src,tcp_src)",
        buckets: [
          { id: 1, weight: 2, extra: "", actions: "LOCAL" },
          { id: 2, weight: 1, extra: "", actions: "set_field:02:00:00:00:00:03->eth_dst,LOCAL" },
        ],
      },
      { id: 9, type: "select", properties: "selection_method=hash,fields(ip_src,tcp_src)", buckets: [] },
      { id: 500, type: "all", properties: "", buckets: [{ id: 0, weight: 1, extra: "", actions: "LOCAL" }] },
    ]);
  });

  it("reads parse-flows lines in their order, skipping the protocol lines", () => {
    const text = [
      "usable protocols: OXM,NXM+table_id",
      "chosen protocol: OXM-OpenFlow15",
      "OFPT_FLOW_MOD (OF1.5) (xid=0x1): ADD table:1 priority=5,ip,nw_dst=10.0.0.2 actions=LOCAL",
      "OFPT_FLOW_MOD (OF1.5) (xid=0x2): ADD priority=7 actions=drop",
    ].join("\n");
    expect(parseFlowMods(text)).toEqual([
      { table: 1, priority: 5, match: "ip,nw_dst=10.0.0.2", actions: "LOCAL" },
      { table: 0, priority: 7, match: "", actions: "drop" },
    ]);
  });

  it("refuses a line it cannot read rather than guessing", () => {
    expect(() => parseFlowDump(" cookie=0x1, priority=5")).toThrow(
      "FROCTAL_E_INTERNAL: ovs-ofctl printed a line this adapter cannot read: cookie=0x1, priority=5",
    );
  });
});
