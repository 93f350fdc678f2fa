/**
 * Example guest: an HTTP load balancer. Its backend set is configuration the
 * manager pushes (prepare validates, commit swaps atomically, abort keeps the
 * old set). Requests go round-robin; a backend that refuses the connection is
 * skipped and the request tried on the next one, so a backend that has just
 * left costs no client request.
 *
 * That retry would also hide a backend stopped while it still had work, so the
 * lb counts every failed upstream attempt, retried or not, and answers
 * GET /_lb/stats itself (never forwarded): { proxied, upstreamFailures, failed },
 * failed being the requests it answered 502 or 503. The same go to the manager
 * as the counters requests, upstream_failures and errors.
 */
import { createServer, request } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "@froctal/agent";

interface LbConfig {
  readonly backends: readonly string[];
  /**
   * How long prepare takes before it answers, ms (default 0): a fleet can
   * make this lb behave like a data plane that is slow to program, so that a
   * generation stays in flight a while (the crash-point test kills its
   * manager then).
   */
  readonly prepareMs?: number;
}

const agent = connect({ build: { app: "lb", appVersion: "0.1.0", features: ["http-proxy"] } });
let backends: readonly string[] = [];
let next = 0;
let errors = 0;
let proxied = 0;
let upstreamFailures = 0;
const STATS_PATH = "/_lb/stats";

agent.onConfig<LbConfig>({
  async prepare(config) {
    if (typeof config !== "object" || config === null || !Array.isArray(config.backends)) {
      return "config.backends must be a list of URLs";
    }
    for (const b of config.backends) {
      if (typeof b !== "string" || !/^http:\/\/[^/]+$/.test(b))
        return `backend ${JSON.stringify(b)} is not an http://host:port URL`;
    }
    const { prepareMs = 0 } = config;
    if (!Number.isInteger(prepareMs) || prepareMs < 0 || prepareMs > 60_000) {
      return `prepareMs ${JSON.stringify(prepareMs)} is not a whole number of ms from 0 to 60000`;
    }
    if (prepareMs > 0) await new Promise((resolve) => setTimeout(resolve, prepareMs));
    return undefined;
  },
  commit(config) {
    backends = [...config.backends];
    agent.gauge("backends", backends.length);
  },
});

function forward(
  req: import("node:http").IncomingMessage,
  res: import("node:http").ServerResponse,
  tries: number,
): void {
  const set = backends;
  if (set.length === 0) {
    errors++;
    res.writeHead(503).end("no backends\n");
    return;
  }
  const target = set[next++ % set.length]!;
  const upstream = request(`${target}${req.url ?? "/"}`, { method: req.method, headers: req.headers }, (up) => {
    res.writeHead(up.statusCode ?? 502, up.headers);
    up.pipe(res);
    proxied++;
  });
  upstream.on("error", () => {
    upstreamFailures++;
    if (tries < Math.max(3, set.length) && !res.headersSent) forward(req, res, tries + 1);
    else {
      errors++;
      if (!res.headersSent) res.writeHead(502).end("bad gateway\n");
    }
  });
  upstream.end();
}

const server = createServer((req, res) => {
  if (req.method === "GET" && req.url === STATS_PATH) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ proxied, upstreamFailures, failed: errors }));
    return;
  }
  forward(req, res, 1);
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  agent.event("endpoint", { url: `http://127.0.0.1:${port}` });
  agent.ready();
});

const report = setInterval(() => {
  agent.counter("requests", proxied);
  agent.counter("errors", errors);
  agent.counter("upstream_failures", upstreamFailures);
}, 500);

agent.exitOnSignals(() => {
  clearInterval(report);
  server.close();
  server.closeIdleConnections();
});
