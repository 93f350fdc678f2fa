// A load client for the OVS e2e, run inside a network namespace of its own
// (`ip netns exec NS node vip-load.mjs URL RATE`): a new connection per request,
// so every request is a new connection the switch places. Reads "rate N" and
// "stop" on stdin; on stop it waits for what is in flight and prints one JSON
// line: { ok, failed, failures, served: [[sentAtEpochMs, instance], ...] }.
import { request } from "node:http";
import { createInterface } from "node:readline";

const [url, initial] = process.argv.slice(2);
let rate = Number(initial);
let running = true;
const result = { ok: 0, failed: 0, failures: [], served: [] };
const pending = new Set();

function one() {
  const sentAt = Date.now();
  return new Promise((done) => {
    const req = request(`${url}/?work=20`, { agent: false, headers: { connection: "close" } }, (res) => {
      let body = "";
      res.on("data", (c) => {
        body += c;
      });
      res.on("end", () => {
        if (res.statusCode === 200) {
          result.ok++;
          result.served.push([sentAt, JSON.parse(body).instance]);
        } else {
          result.failed++;
          result.failures.push(`HTTP ${res.statusCode}: ${body.trim()}`);
        }
        done();
      });
    });
    req.on("error", (e) => {
      result.failed++;
      result.failures.push(`${new Date(sentAt).toISOString()} ${e.message}`);
      done();
    });
    req.setTimeout(5_000, () => req.destroy(new Error("no answer within 5 s")));
    req.end();
  });
}

const loop = (async () => {
  let due = 1;
  let last = performance.now();
  while (running) {
    const now = performance.now();
    due += ((now - last) / 1000) * rate;
    last = now;
    for (; due >= 1; due--) {
      const p = one();
      pending.add(p);
      void p.finally(() => pending.delete(p));
    }
    await new Promise((r) => setTimeout(r, 5));
  }
})();

createInterface({ input: process.stdin }).on("line", async (line) => {
  const [command, value] = line.trim().split(/\s+/);
  if (command === "rate") rate = Number(value);
  if (command === "stop") {
    running = false;
    await loop;
    await Promise.all(pending);
    process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
  }
});
