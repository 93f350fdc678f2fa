import { FroctalError } from "@froctal/primitives";
import { parseFlowDump, parseFlowMods, parseGroupDump } from "./parse.js";
import { checkDesired, plan, type Staged } from "./plan.js";
import { bridgeTarget, type OvsOptions, runTool } from "./run.js";
import {
  type DumpedFlow,
  type DumpedGroup,
  type Flow,
  type NetworkState,
  type Owner,
  SELECTION,
  type SelectGroup,
  sortState,
} from "./state.js";

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
  /**
   * Reads the bridge and plans the change to `desired`, without changing
   * anything; refuses bad input. Given `groups` (the owner's groups as this
   * adapter last wrote or read them: a staged plan's `desired.groups`), it
   * reads only the flows: groups in the owner's range are no one else's.
   */
  stage(bridge: string, owner: Owner, desired: NetworkState, groups?: readonly SelectGroup[]): Promise<Staged>;
  /** Applies a staged change as one atomic OpenFlow bundle: all of it or, on any refusal, none of it. */
  commit(staged: Staged): Promise<void>;
  /** `stage` then `commit`: converges the owner's part of the bridge on `desired`. */
  apply(bridge: string, owner: Owner, desired: NetworkState): Promise<Staged>;
}

/** A group as the switch prints one this adapter wrote. */
function asDumped(group: SelectGroup): DumpedGroup {
  return {
    id: group.id,
    type: "select",
    properties: SELECTION,
    buckets: group.buckets.map(({ id, actions }) => ({ id, weight: 1, extra: "", actions })),
  };
}

/** Lines whose spelling is kept (about 200 bytes each): a big fleet's flows and buckets several times over. */
const SPELLED_MAX = 20_000;

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
   * How the switch prints each line this adapter has asked about: `ovs-ofctl
   * parse-flows` is a pure, local spelling (no switch involved), so a line is
   * asked about once; a generation that changes one backend spells only its
   * bucket, or nothing. Cleared when it grows past SPELLED_MAX lines.
   */
  const spelled = new Map<string, Flow>();

  /**
   * Spells every flow and bucket the way the switch prints them back, so that
   * an unchanged state diffs to nothing; a syntax error is refused here, before
   * the bridge is touched.
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
    const missing = [...new Set(lines.filter((line) => !spelled.has(line)))];
    const fresh = new Map<string, Flow>();
    if (missing.length > 0) {
      const answers = parseFlowMods(await ofctl(["parse-flows", "-"], `${missing.join("\n")}\n`));
      if (answers.length !== missing.length) {
        throw new FroctalError(
          "FROCTAL_E_INTERNAL",
          `ovs-ofctl parse-flows read ${answers.length} of ${missing.length} flows`,
        );
      }
      for (const [i, line] of missing.entries()) fresh.set(line, answers[i]!);
    }
    const parsed = lines.map((line) => spelled.get(line) ?? fresh.get(line)!);
    if (spelled.size + fresh.size > SPELLED_MAX) spelled.clear();
    for (const [line, flow] of fresh) spelled.set(line, flow);
    let next = desired.flows.length;
    return {
      flows: parsed.slice(0, desired.flows.length),
      groups: desired.groups.map((group) => ({
        id: group.id,
        buckets: group.buckets.map((bucket) => ({ id: bucket.id, actions: parsed[next++]!.actions })),
      })),
    };
  }

  async function stage(
    bridge: string,
    owner: Owner,
    desired: NetworkState,
    known?: readonly SelectGroup[],
  ): Promise<Staged> {
    checkDesired(owner, desired);
    // The spelling is local and the dumps only read: all at once. A refused line still changes nothing.
    const [wanted, flows, groups] = await Promise.all([
      canonical(desired),
      dumpFlows(bridge),
      known === undefined ? dumpGroups(bridge) : known.map(asDumped),
    ]);
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
