/**
 * Example guest: an HTTP server doing simulated work (GET /?work=MS). Reports
 * requests per second and in-flight requests as gauges, its address as the
 * "endpoint" fact, and honours drain: it keeps serving whatever still arrives,
 * and says drained once it has been idle for a moment, so a load balancer that
 * has just been told to stop sending here loses no request. It listens on
 * 127.0.0.1 and a free port unless HOST and PORT say otherwise (a guest on
 * its own network behind a VIP: HOST=0.0.0.0 PORT=8080).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { networkInterfaces } from "node:os";
import { connect } from "@froctal/agent";

const agent = connect({ build: { app: "web", appVersion: "0.1.0", features: ["http"] } });
const QUIET_MS = 300;

let inflight = 0;
let served = 0;
let lastRequestAt = Date.now();
const window: number[] = [];

const server = createServer((req, res) => {
  inflight++;
  lastRequestAt = Date.now();
  const work = Math.min(5_000, Number(new URL(req.url ?? "/", "http://x").searchParams.get("work") ?? 10) || 0);
  setTimeout(() => {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ instance: process.env.FROCTAL_INSTANCE_ID, work }));
    inflight--;
    served++;
    window.push(Date.now());
  }, work);
});
server.keepAliveTimeout = 2_000;

const host = process.env.HOST ?? "127.0.0.1";
server.listen(Number(process.env.PORT ?? 0), host, () => {
  const { port } = server.address() as AddressInfo;
  agent.event("endpoint", { url: `http://${host === "0.0.0.0" ? ownAddress() : host}:${port}` });
  agent.ready();
});

/** Listening on every address: the one others reach it at is its first outside address (eth0 in its namespace). */
function ownAddress(): string {
  const outside = Object.values(networkInterfaces())
    .flat()
    .find((a) => a !== undefined && a.family === "IPv4" && !a.internal);
  return outside?.address ?? "127.0.0.1";
}

const report = setInterval(() => {
  const cutoff = Date.now() - 1_000;
  while (window.length > 0 && window[0]! < cutoff) window.shift();
  agent.gauge("rps", window.length);
  agent.gauge("inflight", inflight);
  agent.counter("requests", served);
}, 200);

agent.onDrain(async () => {
  while (inflight > 0 || Date.now() - lastRequestAt < QUIET_MS) await new Promise((r) => setTimeout(r, 50));
  agent.drained();
});

agent.exitOnSignals(() => {
  clearInterval(report);
  server.close();
  server.closeIdleConnections();
});
