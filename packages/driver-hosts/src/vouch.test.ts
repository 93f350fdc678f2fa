// A host vouching for a guest's channel, on real parts: the real agent on a real unix socket (its
// "channel"), @froctal/host's ChannelRelay on the host side, a real WebSocket to the real agent
// server's /agent, which checks the vouching against the HostsDriver's credential and placement.
import { once } from "node:events";
import { mkdtempSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer as createUnixServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as connectAgent } from "@froctal/agent";
import { ChannelRelay } from "@froctal/host";
import type { FleetSpec } from "@froctal/manager";
import { VirtualClock } from "@froctal/primitives";
import { createAgentServer, createRecordingIngest } from "@froctal/server";
import { MemoryDriver, microtasks } from "@froctal/testkit";
import { afterEach, describe, expect, it } from "vitest";
import { hostCredential } from "./credential.js";
import { HostsDriver } from "./hosts-driver.js";
import { joinLocalHost } from "./local-host.js";
import { vouchFor } from "./vouch.js";

const secret = "a1".repeat(32);
const identity = { name: "vms", id: "fedcba9876543210fedcba9876543210" };
const fleet: FleetSpec = { name: "vms", services: { vm: { image: "vm", replicas: 1 } } };
const info = { cpus: 2, memoryBytes: 1 << 30, features: [], drivers: ["memory"] };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function world() {
  const clock = new VirtualClock();
  const said: string[] = [];
  const hosts = new HostsDriver({ fleet, identity, knownHosts: [], clock, log: (message) => said.push(message) });
  joinLocalHost(hosts, "a", new MemoryDriver({ clock }), info);
  joinLocalHost(hosts, "b", new MemoryDriver({ clock }), info);
  await microtasks();
  // Host a takes vm-1 (placement breaks the tie by id).
  await hosts.start({ instanceId: "vm-1", fleet: "vms", fleetId: identity.id, service: "vm", env: {}, image: "vm" });
  const ingest = createRecordingIngest({ tokens: new Map() });
  const server = createAgentServer({ ingest });
  const http = createHttpServer((_req, res) => res.writeHead(404).end());
  server.attachWebSocket(http, { path: "/agent", vouch: vouchFor(hosts, secret) });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  cleanup.push(async () => {
    await server.close();
    http.closeAllConnections();
    await new Promise<void>((done) => http.close(() => done()));
  });
  const agentUrl = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/agent`;
  /** Each distinct refusal the hosts driver counted, and how many it counted in all. */
  const refusals = () => ({
    sentences: [...new Set(said.filter((m) => m.startsWith("refused: ")))].sort(),
    counted: hosts.stats.rejected.get("FROCTAL_E_AUTH") ?? 0,
    logged: said.filter((m) => m.startsWith("refused: ")).length,
  });
  return { hosts, ingest, agentUrl, refusals };
}

/** A guest whose only way out is a channel (a unix socket), relayed by `relay` as instance `instanceId`. */
async function guestBehind(relay: ChannelRelay, instanceId: string) {
  const path = join(mkdtempSync(join(tmpdir(), "froctal-vouch-")), "channel.sock");
  const channel = createUnixServer((socket) => relay.serveStream(socket, { instanceId, peer: `channel ${path}` }));
  channel.listen(path);
  await once(channel, "listening");
  const agent = connectAgent({
    url: `unix:${path}`,
    instanceId,
    env: {},
    helloTimeoutMs: 300,
    reconnect: { initialMs: 20, maxMs: 100 },
  });
  cleanup.push(async () => {
    await agent.close({ timeoutMs: 200 });
    await new Promise<void>((done) => channel.close(() => done()));
  });
  return agent;
}

async function until(probe: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!probe()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("a host vouching for its guest's channel", () => {
  it("lets the guest placed on it speak with no token, and its events arrive", async () => {
    const w = await world();
    const relay = new ChannelRelay({
      agentUrl: w.agentUrl,
      hostId: "a",
      credential: hostCredential(secret, identity.id, "a"),
    });
    const agent = await guestBehind(relay, "vm-1");
    agent.ready();
    agent.event("booted", { on: "a" });
    await until(() => w.ingest.events.some((e) => e.event.kind === "app"), "the guest's event");
    expect(w.ingest.hellos.get("vm-1")?.token).toBe("");
    expect(w.ingest.events.filter((e) => e.event.kind === "app").map((e) => e.instanceId)).toEqual(["vm-1"]);
    expect([...w.hosts.stats.rejected]).toEqual([]);
  });

  it("refuses a host vouching for an instance placed on another host, or for none, and counts it", async () => {
    const w = await world();
    const logs: string[] = [];
    const b = new ChannelRelay({
      agentUrl: w.agentUrl,
      hostId: "b",
      credential: hostCredential(secret, identity.id, "b"),
      log: (line) => logs.push(line),
    });
    await guestBehind(b, "vm-1");
    await guestBehind(b, "vm-9");
    await until(() => new Set(logs).size === 2, "both guests refused");
    expect(w.ingest.hellos.size).toBe(0);
    expect([...new Set(logs)].sort()).toEqual([
      "the manager refused to relay vm-1: HTTP 403",
      "the manager refused to relay vm-9: HTTP 403",
    ]);
    // The guests keep trying: every attempt is refused and counted, with one of these two reasons.
    const r = w.refusals();
    expect(r.sentences).toEqual([
      "refused: FROCTAL_E_AUTH: host b cannot vouch for vm-1: it is placed on host a",
      "refused: FROCTAL_E_AUTH: host b cannot vouch for vm-9: it is placed on no host",
    ]);
    expect(r.counted).toBe(r.logged);
  });

  it("refuses a credential that is not the host's", async () => {
    const w = await world();
    const logs: string[] = [];
    const forged = new ChannelRelay({
      agentUrl: w.agentUrl,
      hostId: "a",
      credential: hostCredential(secret, identity.id, "b"),
      log: (line) => logs.push(line),
    });
    await guestBehind(forged, "vm-1");
    await until(() => logs.length > 0, "the refusal");
    expect(logs[0]).toBe("the manager refused to relay vm-1: HTTP 403");
    expect(w.ingest.hellos.size).toBe(0);
    expect(w.refusals().sentences).toEqual([
      "refused: FROCTAL_E_AUTH: the credential presented for host a is not this fleet's for that id",
    ]);
  });
});
