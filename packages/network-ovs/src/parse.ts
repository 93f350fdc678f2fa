import { FroctalError } from "@froctal/primitives";
import type { DumpedFlow, DumpedGroup, Flow } from "./state.js";

/** OpenFlow's priority when a flow names none; `ovs-ofctl` then prints none. */
const DEFAULT_PRIORITY = 32768;

/** `priority=5,ip,nw_dst=10.0.0.1` into its priority and the rest of the match. */
function splitMatch(text: string): { priority: number; match: string } {
  const fields = text === "" ? [] : text.split(",");
  const first = fields[0];
  if (first?.startsWith("priority=")) {
    return { priority: Number(first.slice("priority=".length)), match: fields.slice(1).join(",") };
  }
  return { priority: DEFAULT_PRIORITY, match: fields.join(",") };
}

function actionsAt(line: string): { head: string; actions: string } {
  const at = line.startsWith("actions=") ? 0 : line.indexOf(" actions=") + 1;
  if (at === 0 && !line.startsWith("actions=")) throw unreadable(line);
  return { head: line.slice(0, at).trim(), actions: line.slice(at + "actions=".length) };
}

function unreadable(line: string): FroctalError {
  return new FroctalError("FROCTAL_E_INTERNAL", `ovs-ofctl printed a line this adapter cannot read: ${line}`);
}

/**
 * `ovs-ofctl --no-stats dump-flows` output, one flow a line:
 * ` cookie=0x2a, table=1, priority=100,ip,nw_dst=10.0.0.1 actions=group:7`
 * (cookie 0 and table 0 are not printed; the match is the last `, `-separated part).
 */
export function parseFlowDump(text: string): DumpedFlow[] {
  const flows: DumpedFlow[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || /^(OFPST|NXST)_/.test(line)) continue;
    const { head, actions } = actionsAt(line);
    let cookie = 0n;
    let table = 0;
    let matchText = "";
    const extra: string[] = [];
    const parts = head === "" ? [] : head.split(", ");
    parts.forEach((part, index) => {
      const field = part.replace(/,$/, "");
      if (field.startsWith("cookie=")) cookie = BigInt(field.slice("cookie=".length));
      else if (field.startsWith("table=")) table = Number(field.slice("table=".length));
      else if (index === parts.length - 1) matchText = field;
      else extra.push(field);
    });
    flows.push({ cookie, table, ...splitMatch(matchText), actions, extra: extra.join(", ") });
  }
  return flows;
}

/**
 * `ovs-ofctl dump-groups` output, one group a line:
 * ` group_id=7,type=select,selection_method=hash,fields(ip_src,tcp_src),bucket=bucket_id:3,actions=LOCAL,...`
 * (a bucket's `weight:1` is not printed).
 */
export function parseGroupDump(text: string): DumpedGroup[] {
  const groups: DumpedGroup[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || /^(OFPST|NXST)_/.test(line)) continue;
    const [group, ...buckets] = line.split(",bucket=");
    const head = /^group_id=(\d+),type=([a-z]+),?(.*)$/.exec(group ?? "");
    if (head === null) throw unreadable(line);
    groups.push({
      id: Number(head[1]),
      type: head[2] ?? "",
      properties: head[3] ?? "",
      buckets: buckets.map((bucket) => {
        const { head: fields, actions } = actionsAt(bucket.replace(/,actions=/, " actions="));
        let id = -1;
        let weight = 1;
        const extra: string[] = [];
        for (const field of fields.split(",")) {
          if (field.startsWith("bucket_id:")) id = Number(field.slice("bucket_id:".length));
          else if (field.startsWith("weight:")) weight = Number(field.slice("weight:".length));
          else if (field !== "") extra.push(field);
        }
        return { id, weight, extra: extra.join(","), actions };
      }),
    });
  }
  return groups;
}

/**
 * `ovs-ofctl parse-flows` output, one flow mod a line, in the order of its input:
 * `OFPT_FLOW_MOD (OF1.5) (xid=0x1): ADD table:1 priority=5,ip,nw_dst=10.0.0.2 actions=LOCAL`.
 * This is how desired flows are spelled as the switch will print them back.
 */
export function parseFlowMods(text: string): Flow[] {
  const flows: Flow[] = [];
  for (const line of text.split("\n")) {
    const at = line.indexOf("): ADD ");
    if (!line.startsWith("OFPT_FLOW_MOD") || at < 0) continue;
    const { head, actions } = actionsAt(line.slice(at + "): ADD ".length));
    let table = 0;
    let matchText = "";
    for (const part of head === "" ? [] : head.split(" ")) {
      if (part.startsWith("table:")) table = Number(part.slice("table:".length));
      else matchText = part;
    }
    flows.push({ table, ...splitMatch(matchText), actions });
  }
  return flows;
}
