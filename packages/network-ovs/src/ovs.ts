import { FroctalError } from "@froctal/primitives";
import { parseFlowDump, parseFlowMods, parseGroupDump } from "./parse.js";
import { checkDesired, plan, type Staged } from "./plan.js";
import { bridgeTarget, type OvsOptions, runTool } from "./run.js";
import { type DumpedFlow, type DumpedGroup, type Flow, type NetworkState, type Owner, sortState } from "./state.js";

/**
 * One small adapter over `ovs-vsctl` and `ovs-ofctl` (OpenFlow 1.5), run through
 * execFile: no npm OpenFlow or OVSDB package is maintained. Every call names the
 * database socket and the run directory it was given, never the system's.
 */
export interface Ovs {
  /** Creates the bridge (or keeps it) and resolves once ovs-vswitchd has it up: `add-br` exits 0 even when it failed. */
  addBridge(name: string, datapathType?: "netdev" | "system"): Promise<void>;
  /** Deletes the bridge if it exists, with its ports. */
  deleteBridge(name: string): Promise<void>;
  /** The bridge's flows: all of them, or those with one cookie. */
  dumpFlows(bridge: string, cookie?: bigint): Promise<DumpedFlow[]>;
  /** The bridge's groups (groups have no cookie). */
  dumpGroups(bridge: string): Promise<DumpedGroup[]>;
  /** What of the bridge is the owner's, in `sortState`'s order. */
  read(bridge: string, owner: Owner): Promise<NetworkState>;
  /** Reads the bridge and plans the change to `desired`, without changing anything; refuses bad input. */
  stage(bridge: string, owner: Owner, desired: NetworkState): Promise<Staged>;
  /** Applies a staged change as one atomic OpenFlow bundle: all of it or, on any refusal, none of it. */
  commit(staged: Staged): Promise<void>;
  /** `stage` then `commit`: converges the owner's part of the bridge on `desired`. */
  apply(bridge: string, owner: Owner, desired: NetworkState): Promise<Staged>;
}

export function openOvs(options: OvsOptions): Ovs {
  const vsctl = (...args: string[]) => runTool(options, "ovs-vsctl", args);
  const ofctl = (args: string[], input?: string) => runTool(options, "ovs-ofctl", args, input);

  async function addBridge(name: string, datapathType: "netdev" | "system" = "netdev"): Promise<void> {
    await vsctl("--may-exist", "add-br", name, "--", "set", "bridge", name, `datapath_type=${datapathType}`);
    const [ofport, error] = (await vsctl("get", "Interface", name, "ofport", "error")).trim().split("\n");
    if (ofport === undefined || !/^\d+$/.test(ofport.trim()) || (error !== undefined && error.trim() !== "[]")) {
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `bridge ${name} (datapath_type=${datapathType}) did not come up: ofport ${ofport?.trim() ?? "?"}, ` +
          `error ${error?.trim() ?? "?"}; see ovs-vswitchd's log (without the openvswitch kernel module, only netdev works)`,
      );
    }
  }

  async function dumpFlows(bridge: string, cookie?: bigint): Promise<DumpedFlow[]> {
    const filter = cookie === undefined ? [] : [`cookie=0x${cookie.toString(16)}/-1`];
    return parseFlowDump(await ofctl(["--no-stats", "dump-flows", bridgeTarget(options, bridge), ...filter]));
  }

  async function dumpGroups(bridge: string): Promise<DumpedGroup[]> {
    return parseGroupDump(await ofctl(["dump-groups", bridgeTarget(options, bridge)]));
  }

  /**
   * Spells every flow and bucket the way the switch prints them back (one local
   * `ovs-ofctl parse-flows`, no switch involved), so that an unchanged state diffs
   * to nothing; a syntax error is refused here, before the bridge is touched.
   */
  async function canonical(desired: NetworkState): Promise<NetworkState> {
    const text = (flow: Flow) =>
      `table=${flow.table},priority=${flow.priority}${flow.match === "" ? "" : `,${flow.match}`} actions=${flow.actions}`;
    const buckets = desired.groups.flatMap((group) => group.buckets);
    const lines = [
      ...desired.flows.map(text),
      // A bucket is spelled as the actions of a TCP flow: a select group here spreads TCP connections, and
      // `ct(nat(dst=IP:PORT))` is refused without an L4 protocol in the match.
      ...buckets.map((bucket) => text({ table: 0, priority: 0, match: "tcp", actions: bucket.actions })),
    ];
    if (lines.length === 0) return desired;
    const parsed = parseFlowMods(await ofctl(["parse-flows", "-"], `${lines.join("\n")}\n`));
    if (parsed.length !== lines.length) {
      throw new FroctalError(
        "FROCTAL_E_INTERNAL",
        `ovs-ofctl parse-flows read ${parsed.length} of ${lines.length} flows`,
      );
    }
    let next = desired.flows.length;
    return {
      flows: parsed.slice(0, desired.flows.length),
      groups: desired.groups.map((group) => ({
        id: group.id,
        buckets: group.buckets.map((bucket) => ({ id: bucket.id, actions: parsed[next++]?.actions ?? bucket.actions })),
      })),
    };
  }

  async function stage(bridge: string, owner: Owner, desired: NetworkState): Promise<Staged> {
    checkDesired(owner, desired);
    const wanted = await canonical(desired);
    const [flows, groups] = await Promise.all([dumpFlows(bridge), dumpGroups(bridge)]);
    return plan(bridge, owner, wanted, flows, groups);
  }

  async function commit(staged: Staged): Promise<void> {
    if (staged.lines.length === 0) return;
    await ofctl(["bundle", bridgeTarget(options, staged.bridge), "-"], `${staged.lines.join("\n")}\n`);
  }

  return {
    addBridge,
    async deleteBridge(name) {
      await vsctl("--if-exists", "del-br", name);
    },
    dumpFlows,
    dumpGroups,
    async read(bridge, owner) {
      const [flows, groups] = await Promise.all([dumpFlows(bridge, owner.cookie), dumpGroups(bridge)]);
      const { min, max } = owner.groupIds;
      return sortState({
        flows: flows.map(({ table, priority, match, actions }) => ({ table, priority, match, actions })),
        groups: groups
          .filter((group) => group.id >= min && group.id <= max)
          .map((group) => ({ id: group.id, buckets: group.buckets.map(({ id, actions }) => ({ id, actions })) })),
      });
    },
    stage,
    commit,
    async apply(bridge, owner, desired) {
      const staged = await stage(bridge, owner, desired);
      await commit(staged);
      return staged;
    },
  };
}
