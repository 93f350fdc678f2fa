/**
 * The manager's HTTP face on one port: GET /status (JSON for `froctal status`
 * and dashboards), GET /healthz, and the agents' WebSocket endpoint at /agent.
 */
import { createServer, type Server } from "node:http";
import type { Manager } from "@froctal/manager";

export function createHttpApi(current: () => Manager | undefined): Server {
  return createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://localhost");
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
    if (req.method === "GET" && url.pathname === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
      return;
    }
    res
      .writeHead(404, { "content-type": "application/json" })
      .end(JSON.stringify({ code: "FROCTAL_E_NOT_FOUND", reason: `no route ${req.method} ${url.pathname}` }));
  });
}
