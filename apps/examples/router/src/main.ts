/**
 * Example guest: a router. Its interfaces are devices (kind "nic", property
 * `address` such as 10.1.0.1/24) read from its device directory (see
 * device-dir.ts); its routing table is configuration the fleet derives from
 * every router's interfaces and pushes to all affected routers in one
 * generation. prepare checks the table against this router's own state and
 * local policy; commit swaps it in whole; abort drops the staged one.
 *
 * Control files in the device directory, for people and tests:
 *   refuse.json  ["10.1.0.0/24", ...]  prefixes this router refuses (prepare nacks)
 *   hold.json    (any contents)        prepare waits while it exists (a slow router)
 *
 * The running table is reported as the app event "routes" and served as JSON
 * on the HTTP "endpoint" the guest reports (GET /).
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { connect } from "@froctal/agent";
import { deviceDirFromEnv, reportDevices, watchDeviceDir } from "./device-dir.js";
import { checkRoutes, describeRoutes, type Route } from "./routes.js";

/** The longest prepare waits on hold.json; past it, prepare goes on (every wait is bounded). */
const MAX_HOLD_MS = 60_000;

const say = (line: string) => process.stdout.write(`${line}\n`);
const agent = connect({ build: { app: "router", appVersion: "0.1.0", features: ["ipv4"] } });
agent.on("error", (e) => say(`agent: ${e.code}: ${e.sentence}`));

const { dir, seed } = deviceDirFromEnv();
const nics = watchDeviceDir({
  dir,
  seed,
  reserved: ["refuse", "hold"],
  onChange: (changes, all) => {
    reportDevices(agent, "nic", changes);
    const list = [...all].map(([id, p]) => `${id} ${String(p.address ?? "?")}`);
    say(`interfaces: ${list.length > 0 ? list.join(", ") : "none"}`);
  },
  onProblem: say,
});

let table: readonly Route[] = [];
let running = 0;
let staged: { generation: number; routes: Route[] } | undefined;

agent.onConfig({
  async prepare(config, generation) {
    await holdWhileFlagged(generation);
    const checked = checkRoutes(config, { interfaces: nics.devices, refused: refusedPrefixes() });
    if ("refusal" in checked) {
      say(`prepare g${generation} refused: ${checked.refusal}`);
      return checked.refusal;
    }
    staged = { generation, routes: checked.routes };
    say(`prepare g${generation}: ${describeRoutes(checked.routes)}`);
    return undefined;
  },
  commit(_config, generation) {
    if (staged?.generation !== generation) throw new Error(`generation ${generation} was not prepared`);
    table = staged.routes;
    running = generation;
    staged = undefined;
    agent.event("routes", { generation, routes: table });
    say(`commit g${generation}: ${describeRoutes(table)}`);
  },
  abort(generation) {
    staged = undefined;
    say(`abort g${generation}: keeping g${running}`);
  },
});

function refusedPrefixes(): ReadonlySet<string> {
  const file = join(dir, "refuse.json");
  if (!existsSync(file)) return new Set();
  try {
    const list = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (Array.isArray(list)) return new Set(list.filter((p): p is string => typeof p === "string"));
  } catch {}
  say("refuse.json is not a JSON list of prefixes; refusing nothing");
  return new Set();
}

async function holdWhileFlagged(generation: number): Promise<void> {
  const flag = join(dir, "hold.json");
  if (!existsSync(flag)) return;
  say(`prepare g${generation} held by hold.json`);
  const until = Date.now() + MAX_HOLD_MS;
  while (existsSync(flag) && Date.now() < until) await new Promise((r) => setTimeout(r, 25));
  say(`prepare g${generation} released`);
}

const server = createServer((_req, res) => {
  const interfaces = Object.fromEntries(nics.devices);
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({ instance: process.env.FROCTAL_INSTANCE_ID, generation: running, routes: table, interfaces }),
  );
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  agent.event("endpoint", { url: `http://127.0.0.1:${port}` });
  agent.ready();
});

agent.exitOnSignals(() => {
  nics.close();
  server.close();
});
