/** `froctal status`: reads a running manager's /status and prints it for people (or as JSON). */
import type { HostSummary } from "@froctal/driver-hosts";
import { describeOutcome, type ManagerStatus, type ServiceStatus } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import { LOCAL_HOST } from "./up.js";

/** What GET /status answers: the core's status, the hosts, and which host runs each instance. */
export type HttpStatus = ManagerStatus & {
  readonly hosts?: readonly HostSummary[];
  readonly placement?: Readonly<Record<string, string | null>>;
};

export async function fetchStatus(baseUrl: string, timeoutMs = 3_000): Promise<HttpStatus> {
  let res: Response;
  try {
    res = await fetch(new URL("/status", baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new FroctalError("FROCTAL_E_TRANSPORT", `no manager answered at ${baseUrl}: is \`froctal up\` running?`, {
      cause,
    });
  }
  if (!res.ok) throw new FroctalError("FROCTAL_E_TRANSPORT", `${baseUrl}/status answered HTTP ${res.status}`);
  return (await res.json()) as HttpStatus;
}

/** `now` is the wall clock (epoch ms) the "next attempt in" countdown is measured from. */
export function renderStatus(s: HttpStatus, now: number = Date.now()): string {
  const lines = [`fleet ${s.fleet}   config generation ${s.generation}`];
  // The embedded default alone (every guest in the manager's process) says nothing a person needs.
  const hosts = s.hosts ?? [];
  const hosted = hosts.some((h) => h.id !== LOCAL_HOST);
  if (hosted) {
    const each = hosts.map((h) => `${h.id} ${h.status} (${h.cpus} cpus, ${h.guests} guests)`);
    lines.push(`hosts: ${each.join(", ")}`);
  }
  // Without a network driver the fleet's load balancer guests carry its backends; with one, say which runs the network.
  if (s.network != null) lines.push(`network: ${s.network.driver}, generation ${s.network.generation}`);
  for (const svc of s.services) {
    lines.push(
      "",
      `${svc.name}: ${svc.instances.length} instances, target ${svc.target} (recommended ${svc.recommended}: ${svc.why})`,
      ...serviceHealth(svc, now),
    );
    for (const i of svc.instances) {
      const load = i.load === null ? "" : `  load ${round(i.load)}`;
      const link = i.connected ? "connected" : "not connected";
      const devices = i.devices.length > 0 ? `  devices ${i.devices.length}` : "";
      const due = i.deadline === undefined ? "" : `  ${deadlineText(i.deadline, now)}`;
      const on = hosted ? s.placement?.[i.id] : undefined;
      const where = on === undefined || on === null ? "" : `  on ${on}`;
      lines.push(
        `  ${i.id.padEnd(16)} ${i.phase.padEnd(9)} gen ${String(i.generation).padEnd(4)} ${link}${where}${load}${devices}${due}${i.failure ? `  (${i.failure})` : ""}`,
      );
    }
  }
  if (s.rollout !== null) {
    const r = s.rollout;
    // In the commit phase a guest that answered with a failure has answered too.
    const answered = r.phase === "preparing" ? r.prepared.length : r.committed.length + r.failed.length;
    lines.push(
      "",
      `rollout in flight: generation ${r.generation} ${r.phase}, ${answered} of ${r.instances.length} answered`,
    );
  }
  const last = s.rollouts.at(-1);
  if (last !== undefined) lines.push("", `last rollout: ${describeOutcome(last)}`);
  return lines.join("\n");
}

/** Why a service starts nothing more, or waits: its failure, its last failed instance, its next attempt. */
function serviceHealth(svc: ServiceStatus, now: number): string[] {
  const lines: string[] = [];
  if (svc.failure !== null) lines.push(`  failed: ${svc.failure} — no more instances will be started`);
  if (svc.lastExit !== null) {
    const e = svc.lastExit;
    lines.push(`  last exit: ${e.instance} ${e.reason} (${new Date(e.at).toISOString()})`);
  }
  if (svc.nextAttemptAt !== null) {
    lines.push(`  next attempt in ${Math.max(0, Math.ceil((svc.nextAttemptAt - now) / 1_000))} s`);
  }
  return lines;
}

/** A long operation's progress: how long it may still take. */
function deadlineText(deadline: { readonly what: "start" | "drain"; readonly at: number }, now: number): string {
  const left = Math.max(0, Math.ceil((deadline.at - now) / 1_000));
  return deadline.what === "drain" ? `drain: stopped in ${left} s at most` : `start: ready within ${left} s or failed`;
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
