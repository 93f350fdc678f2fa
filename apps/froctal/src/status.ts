/** `froctal status`: reads a running manager's /status and prints it for people (or as JSON). */
import type { ManagerStatus } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";

export async function fetchStatus(baseUrl: string, timeoutMs = 3_000): Promise<ManagerStatus> {
  let res: Response;
  try {
    res = await fetch(new URL("/status", baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
  } catch (cause) {
    throw new FroctalError("FROCTAL_E_TRANSPORT", `no manager answered at ${baseUrl}: is \`froctal up\` running?`, {
      cause,
    });
  }
  if (!res.ok) throw new FroctalError("FROCTAL_E_TRANSPORT", `${baseUrl}/status answered HTTP ${res.status}`);
  return (await res.json()) as ManagerStatus;
}

export function renderStatus(s: ManagerStatus): string {
  const lines = [`fleet ${s.fleet}   config generation ${s.generation}`];
  for (const svc of s.services) {
    lines.push(
      "",
      `${svc.name}: ${svc.instances.length} instances, target ${svc.target} (recommended ${svc.recommended}: ${svc.why})`,
    );
    for (const i of svc.instances) {
      const load = i.load === null ? "" : `  load ${round(i.load)}`;
      const link = i.connected ? "connected" : "not connected";
      const devices = i.devices.length > 0 ? `  devices ${i.devices.length}` : "";
      lines.push(
        `  ${i.id.padEnd(16)} ${i.phase.padEnd(9)} gen ${String(i.generation).padEnd(4)} ${link}${load}${devices}${i.failure ? `  (${i.failure})` : ""}`,
      );
    }
  }
  if (s.rollout !== null) {
    const r = s.rollout;
    const answered = r.phase === "preparing" ? r.prepared.length : r.committed.length;
    lines.push(
      "",
      `rollout in flight: generation ${r.generation} ${r.phase}, ${answered} of ${r.instances.length} answered`,
    );
  }
  const last = s.rollouts.at(-1);
  if (last !== undefined) {
    const detail = last.result === "aborted" ? `aborted: ${last.reason}` : "committed";
    lines.push("", `last rollout: generation ${last.generation} ${detail} (${last.instances.join(", ")})`);
  }
  return lines.join("\n");
}

function round(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}
