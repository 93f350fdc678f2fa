import { FroctalError } from "@froctal/primitives";
import {
  type DumpedFlow,
  type DumpedGroup,
  type Flow,
  flowKey,
  type NetworkState,
  type Owner,
  SELECTION,
  type SelectGroup,
} from "./state.js";

/** One owner's change to one bridge, as the lines of one `ovs-ofctl bundle` file; empty when nothing differs. */
export interface Staged {
  readonly bridge: string;
  /** The desired state as the switch spells it: the owner's part of the bridge once the lines are applied. */
  readonly desired: NetworkState;
  readonly lines: readonly string[];
  readonly flows: Changes;
  readonly groups: Changes;
}

export interface Changes {
  readonly added: number;
  readonly replaced: number;
  readonly removed: number;
}

const MAX_COOKIE = (1n << 64n) - 1n;
const MAX_GROUP_ID = 0xffffff00; // above are OFPG_MAX's reserved ids (ALL, ANY)

function refuse(sentence: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", sentence);
}

/** Refuses what no switch should see: a bad owner, duplicate flows, groups outside the owner's range. */
export function checkDesired(owner: Owner, desired: NetworkState): void {
  if (owner.cookie <= 0n || owner.cookie > MAX_COOKIE) {
    throw refuse(`cookie ${owner.cookie} is not in 1..2^64-1 (0 marks flows nobody owns)`);
  }
  const { min, max } = owner.groupIds;
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || min > max || max > MAX_GROUP_ID) {
    throw refuse(`group ids ${min}..${max} are not a range of 0..${MAX_GROUP_ID}`);
  }
  const keys = new Set<string>();
  for (const flow of desired.flows) {
    if (keys.has(flowKey(flow))) throw refuse(`the flow ${describe(flow)} is desired twice`);
    keys.add(flowKey(flow));
  }
  const ids = new Set<number>();
  for (const group of desired.groups) {
    if (!Number.isInteger(group.id) || group.id < min || group.id > max) {
      throw refuse(`group ${group.id} is outside this owner's group ids ${min}..${max}`);
    }
    if (ids.has(group.id)) throw refuse(`group ${group.id} is desired twice`);
    ids.add(group.id);
    const buckets = new Set<number>();
    for (const bucket of group.buckets) {
      if (!Number.isInteger(bucket.id) || bucket.id < 0 || bucket.id > 0xffffff00 || buckets.has(bucket.id)) {
        throw refuse(`group ${group.id} has a bad or repeated bucket id ${bucket.id}`);
      }
      buckets.add(bucket.id);
    }
  }
}

function describe(flow: Flow): string {
  return `table=${flow.table},priority=${flow.priority}${flow.match === "" ? "" : `,${flow.match}`}`;
}

function hex(cookie: bigint): string {
  return `0x${cookie.toString(16)}`;
}

export function groupText(group: SelectGroup): string {
  const buckets = group.buckets.map((bucket) => `,bucket=bucket_id:${bucket.id},weight:1,actions=${bucket.actions}`);
  return `group_id=${group.id},type=select,${SELECTION}${buckets.join("")}`;
}

function sameFlow(desired: Flow, actual: DumpedFlow): boolean {
  return actual.actions === desired.actions && actual.extra === "";
}

function sameGroup(desired: SelectGroup, actual: DumpedGroup): boolean {
  return (
    actual.type === "select" &&
    actual.properties === SELECTION &&
    actual.buckets.length === desired.buckets.length &&
    desired.buckets.every((bucket, index) => {
      const there = actual.buckets[index];
      return there?.id === bucket.id && there.weight === 1 && there.extra === "" && there.actions === bucket.actions;
    })
  );
}

/**
 * The level-triggered diff: of what carries the owner's cookie (flows) or ids
 * (groups), what matches is left, what differs replaced, what is missing added,
 * what is not desired removed; nothing of anyone else is touched. `desired` is
 * spelled as the switch prints (see `parseFlowMods`), so an unchanged state
 * plans no line. Order inside the bundle: groups before the flows that use them,
 * flows gone before the groups they used.
 */
export function plan(
  bridge: string,
  owner: Owner,
  desired: NetworkState,
  flows: readonly DumpedFlow[],
  groups: readonly DumpedGroup[],
): Staged {
  checkDesired(owner, desired);
  const cookie = hex(owner.cookie);
  const ours = new Map<string, DumpedFlow>();
  const others = new Map<string, DumpedFlow>();
  for (const flow of flows) (flow.cookie === owner.cookie ? ours : others).set(flowKey(flow), flow);
  const wanted = new Set(desired.flows.map(flowKey));

  const flowLines = { remove: [] as string[], add: [] as string[] };
  let flowsReplaced = 0;
  for (const [key, flow] of ours) {
    if (!wanted.has(key)) flowLines.remove.push(`flow delete_strict cookie=${cookie}/-1,${describe(flow)}`);
  }
  for (const flow of desired.flows) {
    const key = flowKey(flow);
    const foreign = others.get(key);
    if (foreign !== undefined) {
      throw refuse(
        `the flow ${describe(flow)} exists on ${bridge} with cookie ${hex(foreign.cookie)}, not this owner's`,
      );
    }
    const there = ours.get(key);
    if (there !== undefined && sameFlow(flow, there)) continue;
    if (there !== undefined) flowsReplaced++;
    // An add over a flow with the same table, priority and match replaces it whole.
    flowLines.add.push(`flow add cookie=${cookie},${describe(flow)} actions=${flow.actions}`);
  }

  const { min, max } = owner.groupIds;
  const existing = new Map(groups.filter((g) => g.id >= min && g.id <= max).map((g) => [g.id, g]));
  const desiredIds = new Set(desired.groups.map((group) => group.id));
  const groupLines = { add: [] as string[], remove: [] as string[] };
  let groupsAdded = 0;
  let groupsReplaced = 0;
  for (const group of desired.groups) {
    const there = existing.get(group.id);
    if (there !== undefined && sameGroup(group, there)) continue;
    if (there === undefined) groupsAdded++;
    else groupsReplaced++;
    groupLines.add.push(`group ${there === undefined ? "add" : "modify"} ${groupText(group)}`);
  }
  for (const id of existing.keys()) if (!desiredIds.has(id)) groupLines.remove.push(`group delete group_id=${id}`);

  return {
    bridge,
    desired,
    lines: [...groupLines.add, ...flowLines.remove, ...flowLines.add, ...groupLines.remove],
    flows: { added: flowLines.add.length - flowsReplaced, replaced: flowsReplaced, removed: flowLines.remove.length },
    groups: { added: groupsAdded, replaced: groupsReplaced, removed: groupLines.remove.length },
  };
}
