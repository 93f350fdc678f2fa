/**
 * The manager's HTTP face on one port: GET /status (JSON for `froctal status`
 * and dashboards), GET /events (the journal, for `froctal events`), GET
 * /metrics (Prometheus), GET /healthz, the dashboard (`/`, its assets and its
 * live stream: dashboard.ts), and the agents' WebSocket endpoint at /agent.
 */
import { createServer, type Server } from "node:http";
import type { Manager } from "@froctal/manager";
import type { ServerStats } from "@froctal/server";
import { createDashboard, TOKEN_ENV } from "./dashboard.js";
import { journalSince } from "./events.js";
import { createMetrics } from "./metrics.js";

/**
 * `edge` reads the agent server's counters for /metrics (undefined until it exists); `dashboardToken` is
 * what the dashboard asks for when the port is not bound to loopback.
 */
export function createHttpApi(
  current: () => Manager | undefined,
  edge: () => Readonly<ServerStats> | undefined = () => undefined,
  dashboardToken: string | undefined = process.env[TOKEN_ENV],
): Server {
  const metrics = createMetrics();
  const dashboard = createDashboard({ current, address: () => server.address(), token: dashboardToken });
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
      const body = JSON.stringify({ ...manager.status(), stats: manager.stats });
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
      metrics.scrape({ manager, edge: edge() }).then(
        (text) => res.writeHead(200, { "content-type": metrics.contentType }).end(text),
        (error: unknown) =>
          res
            .writeHead(500, { "content-type": "application/json" })
            .end(JSON.stringify({ code: "FROCTAL_E_INTERNAL", reason: String(error) })),
      );
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
