import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failure } from "../test/failure.js";
import { type Ovs, openOvs } from "./ovs.js";
import { type NetworkState, type Owner, sortState } from "./state.js";

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const linkExists = (name: string) =>
  run("ip", ["link", "show", name]).then(
    () => true,
    () => false,
  );

const owner: Owner = { cookie: 0xf0c7a1n, groupIds: { min: 100, max: 199 } };
const NONE = { added: 0, replaced: 0, removed: 0 };

/** A service VIP (ARP responder, IP to a select group of `backends`) and `routes` more flows; spelled as OVS prints. */
function service(backends: readonly number[], routes = 3): NetworkState {
  const arp =
    "move:NXM_OF_ETH_SRC[]->NXM_OF_ETH_DST[],set_field:02:00:00:00:00:01->eth_src,set_field:2->arp_op," +
    "move:NXM_NX_ARP_SHA[]->NXM_NX_ARP_THA[],move:NXM_OF_ARP_SPA[]->NXM_OF_ARP_TPA[]," +
    "set_field:02:00:00:00:00:01->arp_sha,set_field:10.0.0.1->arp_spa,IN_PORT";
  return {
    flows: [
      { table: 0, priority: 200, match: "arp,arp_tpa=10.0.0.1,arp_op=1", actions: arp },
      { table: 0, priority: 100, match: "ip,nw_dst=10.0.0.1", actions: "group:100" },
      ...Array.from({ length: routes }, (_, i) => ({
        table: 1,
        priority: 50,
        match: `ip,nw_dst=10.1.${i}.0/24`,
        actions: "LOCAL",
      })),
    ],
    groups: [
      {
        id: 100,
        buckets: backends.map((b) => ({ id: b, actions: `set_field:02:00:00:00:01:0${b}->eth_dst,LOCAL` })),
      },
    ],
  };
}

/** Everything on the bridge, anyone's: what "nothing changed" and "nothing applied" compare. */
async function everything(ovs: Ovs, bridge: string) {
  const flows = (await ovs.dumpFlows(bridge)).map((flow) =>
    JSON.stringify(flow, (_, v) => (typeof v === "bigint" ? `0x${v.toString(16)}` : v)),
  );
  return { flows: flows.sort(), groups: await ovs.dumpGroups(bridge) };
}

/** Seconds each of the owner's flows and groups has existed: a replaced one starts again from 0. */
async function ages(fixture: PrivateOvs, bridge: string): Promise<number[]> {
  const target = `unix:${fixture.dir}/${bridge}.mgmt`;
  const flows = await fixture.ofctl("dump-flows", target, `cookie=0x${owner.cookie.toString(16)}/-1`);
  const groups = await fixture.ofctl("dump-group-stats", target);
  return [...`${flows}${groups}`.matchAll(/duration=([\d.]+)s/g)].map((m) => Number(m[1]));
}

describe("openOvs on a private Open vSwitch", () => {
  let fixture: PrivateOvs;
  let ovs: Ovs;
  beforeAll(async () => {
    fixture = await startPrivateOvs();
    ovs = openOvs(fixture.options);
  });
  afterAll(async () => {
    await fixture?.stop();
  });

  async function bridgeUp(): Promise<string> {
    const bridge = fixture.bridgeName();
    await ovs.addBridge(bridge);
    return bridge;
  }

  it("brings a netdev bridge up, with its kernel tap, and reads its default flow back", async () => {
    const bridge = await bridgeUp();
    expect(await fixture.vsctl("get", "Interface", bridge, "ofport", "error")).toBe("65534\n[]\n");
    expect(await fixture.vsctl("get", "Bridge", bridge, "datapath_type")).toBe("netdev\n");
    expect(await linkExists(bridge)).toBe(true);
    expect(await ovs.dumpFlows(bridge)).toEqual([
      { cookie: 0n, table: 0, priority: 0, match: "", actions: "NORMAL", extra: "" },
    ]);
    expect(await ovs.dumpGroups(bridge)).toEqual([]);
  });

  it.skipIf(existsSync("/sys/module/openvswitch"))(
    "refuses a bridge that did not come up although add-br exited 0 (system datapath, no kernel module)",
    async () => {
      const bridge = fixture.bridgeName();
      const error = await failure(ovs.addBridge(bridge, "system"));
      expect(error.code).toBe("FROCTAL_E_CONFIG");
      expect(error.sentence).toBe(
        `bridge ${bridge} (datapath_type=system) did not come up: ofport [], error []; see ovs-vswitchd's log ` +
          "(without the openvswitch kernel module, only netdev works)",
      );
    },
  );

  it("spells a line once: the same state again only reads the bridge, a new bucket spells that bucket alone", async () => {
    // The real tools behind wrappers that log what they were asked and what they read on stdin.
    const dir = await mkdtemp(join(tmpdir(), "froctal-ovs-log-"));
    const log = join(dir, "calls.log");
    for (const tool of ["ovs-ofctl", "ovs-vsctl"]) {
      const real = join(fixture.options.binDir, tool);
      const script = `#!/bin/sh\nin=$(cat)\necho "$* <<$(printf '%s' "$in" | grep -c .)" >> ${log}\nprintf '%s\\n' "$in" | exec ${real} "$@"\n`;
      await writeFile(join(dir, tool), script, { mode: 0o755 });
    }
    try {
      const logged = openOvs({ ...fixture.options, binDir: dir });
      const bridge = await bridgeUp();
      const calls = async () => {
        const lines = (await readFile(log, "utf8")).trim().split("\n");
        await writeFile(log, "");
        // The subcommand and how many lines it read: "parse-flows 7".
        return lines.flatMap((l) => {
          const m = /(parse-flows|dump-flows|dump-groups|bundle) .*<<(\d+)$/.exec(l);
          return m === null ? [] : [`${m[1]} ${m[2]}`];
        });
      };
      await logged.apply(bridge, owner, service([1, 2, 3]));
      expect((await calls()).sort()).toEqual(["bundle 6", "dump-flows 0", "dump-groups 0", "parse-flows 8"]);
      await logged.apply(bridge, owner, service([1, 2, 3]));
      expect((await calls()).sort()).toEqual(["dump-flows 0", "dump-groups 0"]);
      await logged.apply(bridge, owner, service([1, 2, 3, 4]));
      expect((await calls()).sort()).toEqual(["bundle 1", "dump-flows 0", "dump-groups 0", "parse-flows 1"]);
      expect(await ovs.read(bridge, owner)).toEqual(sortState(service([1, 2, 3, 4])));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("applies flows and select groups in one bundle; the bridge then holds exactly the desired state", async () => {
    const bridge = await bridgeUp();
    const staged = await ovs.apply(bridge, owner, service([1, 2, 3]));
    expect({ flows: staged.flows, groups: staged.groups }).toEqual({
      flows: { added: 5, replaced: 0, removed: 0 },
      groups: { added: 1, replaced: 0, removed: 0 },
    });
    expect(await ovs.read(bridge, owner)).toEqual(sortState(service([1, 2, 3])));
    const [group] = await ovs.dumpGroups(bridge);
    expect(group?.properties).toBe("selection_method=hash,fields(ip_src,tcp_src)");
    expect(group?.buckets.map((b) => [b.id, b.weight])).toEqual([
      [1, 1],
      [2, 1],
      [3, 1],
    ]);
  });

  it("applying the same state again changes nothing, however the flows are spelled", async () => {
    const bridge = await bridgeUp();
    const spelled: NetworkState = {
      flows: [
        { table: 0, priority: 10, match: "nw_dst=10.2.0.1,ip", actions: "mod_dl_dst:02:00:00:00:00:09,output:LOCAL" },
      ],
      groups: [{ id: 101, buckets: [{ id: 7, actions: "mod_dl_dst:02:00:00:00:00:07,output:LOCAL" }] }],
    };
    const desired = {
      flows: [...service([1, 2]).flows, ...spelled.flows],
      groups: [...service([1, 2]).groups, ...spelled.groups],
    };
    await ovs.apply(bridge, owner, desired);
    const before = await everything(ovs, bridge);
    await sleep(300);
    const again = await ovs.apply(bridge, owner, desired);
    expect({ lines: again.lines, flows: again.flows, groups: again.groups }).toEqual({
      lines: [],
      flows: NONE,
      groups: NONE,
    });
    expect(await everything(ovs, bridge)).toEqual(before);
    const lived = await ages(fixture, bridge);
    expect(lived).toHaveLength(6 + 2);
    expect(lived.filter((seconds) => seconds < 0.3)).toEqual([]);
  });

  it("converges what carries its cookie and leaves other cookies' flows and other groups alone", async () => {
    const bridge = await bridgeUp();
    const target = `unix:${fixture.dir}/${bridge}.mgmt`;
    await ovs.apply(bridge, owner, service([1, 2], 3));
    await fixture.ofctl("add-flow", target, "cookie=0x99,table=1,priority=50,ip,nw_dst=10.9.0.0/24 actions=drop");
    await fixture.ofctl("add-group", target, "group_id=500,type=all,bucket=actions=LOCAL");
    const others = async () =>
      (await everything(ovs, bridge)).flows.filter((f) => !f.includes(`"cookie":"0x${owner.cookie.toString(16)}"`));
    const foreign = await others();
    const otherGroups = (await ovs.dumpGroups(bridge)).filter((g) => g.id === 500);

    // One route fewer, the VIP flow's actions changed, group 100 replaced by 150.
    const base = service([1, 2], 2);
    const desired: NetworkState = {
      flows: base.flows.map((f) => (f.priority === 100 ? { ...f, actions: "group:150" } : f)),
      groups: [{ id: 150, buckets: [{ id: 4, actions: "LOCAL" }] }],
    };
    const staged = await ovs.apply(bridge, owner, desired);
    expect({ flows: staged.flows, groups: staged.groups }).toEqual({
      flows: { added: 0, replaced: 1, removed: 1 },
      groups: { added: 1, replaced: 0, removed: 1 },
    });
    expect(await ovs.read(bridge, owner)).toEqual(sortState(desired));
    expect(await others()).toEqual(foreign);
    expect(foreign).toEqual([
      '{"cookie":"0x0","table":0,"priority":0,"match":"","actions":"NORMAL","extra":""}',
      '{"cookie":"0x99","table":1,"priority":50,"match":"ip,nw_dst=10.9.0.0/24","actions":"drop","extra":""}',
    ]);
    expect((await ovs.dumpGroups(bridge)).filter((g) => g.id === 500)).toEqual(otherGroups);

    // A desired flow where another cookie's flow is: refused, nothing applied.
    const before = await everything(ovs, bridge);
    const clash = {
      ...desired,
      flows: [...desired.flows, { table: 1, priority: 50, match: "ip,nw_dst=10.9.0.0/24", actions: "LOCAL" }],
    };
    const error = await failure(ovs.apply(bridge, owner, clash));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toBe(
      `the flow table=1,priority=50,ip,nw_dst=10.9.0.0/24 exists on ${bridge} with cookie 0x99, not this owner's`,
    );
    expect(await everything(ovs, bridge)).toEqual(before);
  });

  it("removes a bucket from a group and keeps the other buckets and their ids", async () => {
    const bridge = await bridgeUp();
    await ovs.apply(bridge, owner, service([1, 2, 3]));
    const staged = await ovs.apply(bridge, owner, service([1, 3]));
    expect(staged.lines).toEqual([
      "group modify group_id=100,type=select,selection_method=hash,fields(ip_src,tcp_src)," +
        "bucket=bucket_id:1,weight:1,actions=set_field:02:00:00:00:01:01->eth_dst,LOCAL," +
        "bucket=bucket_id:3,weight:1,actions=set_field:02:00:00:00:01:03->eth_dst,LOCAL",
    ]);
    expect((await ovs.dumpGroups(bridge)).map((g) => g.buckets.map((b) => b.id))).toEqual([[1, 3]]);
    expect(await ovs.read(bridge, owner)).toEqual(sortState(service([1, 3])));
  });

  it("plans against the groups it last wrote without reading them; a group gone behind its back fails that commit, a read mends it", async () => {
    const bridge = await bridgeUp();
    const first = await ovs.apply(bridge, owner, service([1, 2, 3]));
    expect(first.desired.groups).toEqual((await ovs.read(bridge, owner)).groups);
    const unchanged = await ovs.stage(bridge, owner, service([1, 2, 3]), first.desired.groups);
    expect(unchanged.lines).toEqual([]);
    const fewer = await ovs.stage(bridge, owner, service([1, 3]), first.desired.groups);
    expect(fewer.lines).toEqual([expect.stringMatching(/^group modify group_id=100,/)]);

    await fixture.ofctl("del-groups", `unix:${fixture.dir}/${bridge}.mgmt`, "group_id=100");
    const refused = await failure(ovs.commit(fewer));
    expect([refused.code, refused.sentence]).toEqual([
      "FROCTAL_E_CONFIG",
      expect.stringMatching(/^ovs-ofctl bundle refused: Error OFPGMFC_UNKNOWN_GROUP/),
    ]);
    // Deleting a group deletes the flows that send to it too: both come back.
    const read = await ovs.stage(bridge, owner, service([1, 3]));
    expect(read.lines).toEqual([
      expect.stringMatching(/^group add group_id=100,/),
      expect.stringMatching(/^flow add .* actions=group:100$/),
    ]);
    await ovs.commit(read);
    expect(await ovs.read(bridge, owner)).toEqual(sortState(service([1, 3])));
  });

  it("one bad flow in the bundle: the switch refuses it with its stderr and nothing of the bundle is applied", async () => {
    const bridge = await bridgeUp();
    await ovs.apply(bridge, owner, service([1, 2]));
    const before = await everything(ovs, bridge);
    const next = service([1, 2, 3], 5); // a bucket more, two routes more ...
    const bad = { ...next, flows: [...next.flows, { table: 2, priority: 1, match: "", actions: "group:199" }] }; // ... and a missing group
    const error = await failure(ovs.apply(bridge, owner, bad));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toMatch(
      /^ovs-ofctl bundle refused: Error OFPBAC_BAD_OUT_GROUP for: OFPT_FLOW_MOD .* actions=group:199\n/,
    );
    expect(error.sentence).toContain("OFPBFC_MSG_FAILED");
    expect(await everything(ovs, bridge)).toEqual(before);
  });

  it("a flow ovs-ofctl cannot parse is refused before the bridge is read or touched", async () => {
    const bridge = await bridgeUp();
    await ovs.apply(bridge, owner, service([1]));
    const before = await everything(ovs, bridge);
    const bad = { flows: [{ table: 0, priority: 5, match: "ipx", actions: "LOCAL" }], groups: [] };
    const error = await failure(ovs.stage(bridge, owner, bad));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toBe("ovs-ofctl parse-flows refused: ovs-ofctl: -:1: field ipx missing value");
    expect(await everything(ovs, bridge)).toEqual(before);
  });

  it("refuses a bad owner or a group outside its ids without running anything", async () => {
    const bridge = fixture.bridgeName(); // never created: nothing may be asked of the switch
    const outside = await failure(ovs.stage(bridge, owner, { flows: [], groups: [{ id: 200, buckets: [] }] }));
    expect(outside.sentence).toBe("group 200 is outside this owner's group ids 100..199");
    const cookie = await failure(ovs.stage(bridge, { ...owner, cookie: 0n }, { flows: [], groups: [] }));
    expect(cookie.sentence).toBe("cookie 0 is not in 1..2^64-1 (0 marks flows nobody owns)");
    expect([outside.code, cookie.code]).toEqual(["FROCTAL_E_CONFIG", "FROCTAL_E_CONFIG"]);
  });

  it("without ovsdb-server: an error naming what to start", async () => {
    const socket = `${fixture.dir}/absent.sock`;
    const error = await failure(openOvs({ ...fixture.options, dbSocket: socket }).addBridge(fixture.bridgeName()));
    expect([error.code, error.retryable]).toEqual(["FROCTAL_E_TRANSPORT", true]);
    expect(error.sentence).toBe(
      `ovsdb-server does not answer on ${socket} (ovs-vsctl: unix:${socket}: database connection failed ` +
        "(No such file or directory)): start it (Debian: `/usr/share/openvswitch/scripts/ovs-ctl start`)",
    );
  });

  it("without the tools: an error naming what to install", async () => {
    const missing = openOvs({ ...fixture.options, binDir: "/nonexistent/ovs" });
    const error = await failure(missing.dumpFlows("br0"));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.sentence).toBe(
      "ovs-ofctl is not in /nonexistent/ovs: install Open vSwitch (Debian's openvswitch-switch; " +
        "tools/setup/ensure.sh --test unpacks it into tools/setup/.cache)",
    );
  });
});

describe("openOvs when ovs-vswitchd dies", () => {
  it("names what to start, retryably, for OpenFlow and for ovs-vsctl; the fixture leaves no tap behind", {
    timeout: 20_000,
  }, async () => {
    const fixture = await startPrivateOvs();
    const ovs = openOvs({ ...fixture.options, timeoutMs: 1000 });
    const bridge = fixture.bridgeName();
    try {
      await ovs.addBridge(bridge);
      await ovs.apply(bridge, owner, service([1]));
      await fixture.killVswitchd();
      const flows = await failure(ovs.apply(bridge, owner, service([1, 2])));
      expect([flows.code, flows.retryable]).toEqual(["FROCTAL_E_TRANSPORT", true]);
      expect(flows.sentence).toBe(
        `ovs-vswitchd does not answer for this bridge (ovs-ofctl: connecting to unix:${fixture.dir}/${bridge}.mgmt ` +
          "(Connection refused)): start it (Debian: `/usr/share/openvswitch/scripts/ovs-ctl start`), and create the bridge",
      );
      const started = Date.now();
      const added = await failure(ovs.addBridge(fixture.bridgeName()));
      expect([added.code, added.retryable]).toEqual(["FROCTAL_E_TRANSPORT", true]);
      expect(added.sentence).toBe(
        "ovs-vsctl add-br got no answer within 1000 ms: is ovs-vswitchd running? " +
          "start it (Debian: `/usr/share/openvswitch/scripts/ovs-ctl start`)",
      );
      expect(Date.now() - started).toBeLessThan(3000);
    } finally {
      await fixture.stop();
    }
    expect(await linkExists(bridge)).toBe(false);
    expect(existsSync(fixture.dir)).toBe(false);
  });
});
