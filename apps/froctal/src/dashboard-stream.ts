/**
 * The dashboard's live feed: one Server-Sent Events stream of fleet snapshots.
 * One timer for every open page: at most every `intervalMs` it projects the
 * manager's status into a compact snapshot and sends it only if it changed, so
 * an idle fleet costs one projection a tick and no bytes. Thousands of
 * instances stay cheap: each service sends its counts by phase and its summed
 * load, and only its first `maxRows` instances as rows. Hosts and where each
 * row runs come from the hosts driver, which knows placement; the core does not.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { HostRow, ServiceCard, Snapshot } from "@froctal/dashboard/snapshot";
import type { HostSummary } from "@froctal/driver-hosts";
import { describeOutcome, type Manager, type ManagerStatus } from "@froctal/manager";
import { journalSince, type KeptJournal } from "./events.js";

/** Instance rows sent per service; the rest are counted in `hidden` (and in `phases`). */
export const MAX_ROWS = 50;
/** Journal entries each snapshot carries (the page keeps its own longer timeline by `seq`). */
export const JOURNAL_TAIL = 30;

/** What the dashboard reads of the hosts driver (undefined: the manager runs without hosts). */
export interface HostsView {
  hosts(): readonly HostSummary[];
  hostOf(instanceId: string): string | undefined;
}

/** A pure projection of the manager's status and journal, and of the hosts and placement. */
export function projectDashboard(status: ManagerStatus, journal: KeptJournal, hosts: HostsView | undefined): Snapshot {
  const services = status.services.map((s): ServiceCard => {
    const phases: Record<string, number> = {};
    let load: number | null = null;
    for (const i of s.instances) {
      phases[i.phase] = (phases[i.phase] ?? 0) + 1;
      if (i.load !== null) load = (load ?? 0) + i.load;
    }
    return {
      name: s.name,
      target: s.target,
      recommended: s.recommended,
      why: s.why,
      failure: s.failure,
      ready: phases.ready ?? 0,
      total: s.instances.length,
      phases,
      load,
      instances: s.instances.slice(0, MAX_ROWS).map((i) => ({
        id: i.id,
        phase: i.phase,
        generation: i.generation,
        connected: i.connected,
        load: i.load,
        devices: i.devices.length,
        host: hosts?.hostOf(i.id) ?? null,
      })),
      hidden: Math.max(0, s.instances.length - MAX_ROWS),
    };
  });
  const r = status.rollout;
  const last = status.rollouts.at(-1);
  const { written } = journal.stats;
  return {
    fleet: status.fleet,
    generation: status.generation,
    hosts: (hosts?.hosts() ?? []).map((h): HostRow => ({ id: h.id, status: h.status, cpus: h.cpus, guests: h.guests })),
    network: status.network,
    services,
    rollout:
      r === null
        ? null
        : {
            generation: r.generation,
            phase: r.phase,
            instances: r.instances.length,
            prepared: r.prepared.slice(0, MAX_ROWS),
            preparedCount: r.prepared.length,
            committed: r.committed.slice(0, MAX_ROWS),
            committedCount: r.committed.length,
            failed: r.failed.slice(0, MAX_ROWS).map((f) => `${f.instance}: ${f.reason}`),
          },
    lastRollout: last === undefined ? null : describeOutcome(last),
    written,
    journal: journalSince(journal, Math.max(0, written - JOURNAL_TAIL)).entries,
  };
}

export interface DashboardStream {
  /** Answers GET on the stream's path: the current snapshot at once, then every change. */
  open(req: IncomingMessage, res: ServerResponse): void;
  /** Ends every open stream and the timer (the port is closing). */
  close(): void;
  readonly clients: number;
}

export function createDashboardStream(
  current: () => Manager | undefined,
  hosts: () => HostsView | undefined = () => undefined,
  intervalMs = 500,
): DashboardStream {
  const clients = new Set<ServerResponse>();
  let last = "";
  let timer: NodeJS.Timeout | undefined;
  const snapshot = (): string | undefined => {
    const manager = current();
    return manager === undefined
      ? undefined
      : JSON.stringify(projectDashboard(manager.status(), manager.journal, hosts()));
  };
  const tick = () => {
    const body = snapshot();
    if (body === undefined || body === last) return;
    last = body;
    for (const res of clients) res.write(`data: ${body}\n\n`);
  };
  return {
    open(req, res) {
      res.writeHead(200, {
        "content-type": "text/event-stream",
        "cache-control": "no-store",
        connection: "keep-alive",
      });
      // Tells EventSource how long to wait before reconnecting after the manager restarts.
      res.write("retry: 1000\n\n");
      const body = snapshot();
      if (body !== undefined) res.write(`data: ${body}\n\n`);
      clients.add(res);
      timer ??= setInterval(tick, intervalMs);
      req.once("close", () => {
        clients.delete(res);
        if (clients.size === 0 && timer !== undefined) {
          clearInterval(timer);
          timer = undefined;
          last = "";
        }
      });
    },
    close() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      for (const res of clients) res.end();
      clients.clear();
    },
    get clients() {
      return clients.size;
    },
  };
}
