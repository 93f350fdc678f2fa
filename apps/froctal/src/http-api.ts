/**
 * The manager's HTTP face on one port: GET /status (JSON for `froctal status`
 * and dashboards), GET /events (the journal, for `froctal events`), GET
 * /metrics (Prometheus), GET /healthz, POST /down (`froctal down`), the
 * dashboard (`/`, its assets and its live stream: dashboard.ts), and the
 * WebSocket endpoints of agents (/agent) and hosts (/host).
 */
import { createServer, type Server } from "node:http";
import type { HostsDriver } from "@froctal/driver-hosts";
import type { Manager } from "@froctal/manager";
import type { ServerStats } from "@froctal/server";
import { createDashboard, TOKEN_ENV } from "./dashboard.js";
import { journalSince } from "./events.js";
import { createMetrics, type NetworkCounters } from "./metrics.js";

/**
 * `edge` reads the agent server's counters for /metrics (undefined until it exists); `dashboardToken` is
 * what the dashboard asks for when the port is not bound to loopback.
 */
export interface HttpApiParts {
  readonly current: () => Manager | undefined;
  readonly edge?: () => Readonly<ServerStats> | undefined;
  readonly hosts?: () => HostsDriver | undefined;
  /** The manager's own bridge's counters for /metrics (undefined without one). */
  readonly network?: () => NetworkCounters | undefined;
  /** Stops the fleet on purpose (POST /down): every guest, then the manager. */
  readonly down?: () => void;
  readonly dashboardToken?: string | undefined;
}

export function createHttpApi(parts: HttpApiParts): Server {
  const { current, edge = () => undefined, hosts = () => undefined, network = () => undefined, down } = parts;
  const dashboardToken = "dashboardToken" in parts ? parts.dashboardToken : process.env[TOKEN_ENV];
  const metrics = createMetrics();
  const dashboard = createDashboard({ current, hosts, address: () => server.address(), token: dashboardToken });
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
    // The page and its assets load while the manager starts; its stream waits for the manager.
    if (dashboard.handle(req, res, url)) return;
    const manager = current();
    if (manager === undefined) {
      res
        .writeHead(503, { "content-type": "application/json" })
        .end(JSON.stringify({ code: "FROCTAL_E_CLOSED", reason: "the manager is starting" }));
      return;
    }
    if (req.method === "GET" && url.pathname === "/status") {
      const status = manager.status();
      const placed = hosts();
      // Where each instance runs: the hosts driver knows, the core does not need to.
      const placement = Object.fromEntries(
        status.services.flatMap((svc) => svc.instances.map((i) => [i.id, placed?.hostOf(i.id) ?? null])),
      );
      const body = JSON.stringify({ ...status, stats: manager.stats, hosts: placed?.hosts() ?? [], placement });
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    if (req.method === "GET" && url.pathname === "/events") {
      const after = Number(url.searchParams.get("after") ?? 0);
      const body = JSON.stringify(journalSince(manager.journal, Number.isSafeInteger(after) ? after : 0));
      res.writeHead(200, { "content-type": "application/json" }).end(body);
      return;
    }
    if (req.method === "GET" && url.pathname === "/metrics") {
      metrics.scrape({ manager, edge: edge(), hosts: hosts(), network: network() }).then(
        (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
        (error: unknown) =>
          res
            .writeHead(500, { "content-type": "application/json" })
            .end(JSON.stringify({ code: "FROCTAL_E_INTERNAL", reason: String(error) })),
      );
      return;
    }
    if (req.method === "POST" && url.pathname === "/down" && down !== undefined) {
      res
        .writeHead(202, { "content-type": "application/json" })
        .end(JSON.stringify({ stopping: manager.status().fleet }));
      down();
      return;
    }
    if (req.method === "GET" && url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    res
      .writeHead(404, { "content-type": "application/json" })
      .end(JSON.stringify({ code: "FROCTAL_E_NOT_FOUND", reason: `no route ${req.method} ${url.pathname}` }));
  });
  // The port's close() waits for every connection to end, and a dashboard's stream never ends on its own.
  const close = server.close.bind(server);
  server.close = (callback) => {
    dashboard.close();
    return close(callback);
  };
  return server;
}
