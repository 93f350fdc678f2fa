// The /host endpoint over real WebSockets: real HostDaemons (@froctal/host) running real guest
// processes on the process driver, and raw sockets for what a well-behaved host never sends.
import { once } from "node:events";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createProcessDriver } from "@froctal/driver-process";
import { HostDaemon } from "@froctal/host";
import type { Driver, DriverEvent, FleetSpec, LaunchSpec } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { decodeHostControl, encodeHostFrame, type HostFrame, MIN_PROTOCOL_VERSION } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { hostCredential } from "./credential.js";
import { attachHostsEndpoint } from "./endpoint.js";
import { HostsDriver } from "./hosts-driver.js";

const secret = "5e".repeat(32);
const identity = { name: "shop", id: "0123456789abcdef0123456789abcdef" };
const fleet: FleetSpec = { name: "shop", services: { app: { command: ["/bin/sleep", "600"], replicas: 1 } } };
const info = { cpus: 2, memoryBytes: 1 << 30, features: [], drivers: ["process"] };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function manager(options: { lostAfterMs?: number } = {}) {
  const http: Server = createServer((_req, res) => res.writeHead(404).end());
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const hosts = new HostsDriver({
    fleet,
    identity,
    knownHosts: [],
    clock: systemClock,
    lostAfterMs: options.lostAfterMs ?? 10_000,
  });
  const events: DriverEvent[] = [];
  hosts.watch((e) => events.push(e));
  const detach = attachHostsEndpoint(http, hosts, { hostSecret: secret, clock: systemClock, heartbeatMs: 200 });
  cleanup.push(async () => {
    detach();
    await hosts.close();
    await new Promise<void>((done) => http.close(() => done()));
  });
  const url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/host`;
  return { hosts, events, url };
}

function host(
  url: string,
  id: string,
  credential = hostCredential(secret, identity.id, id),
  driver: Driver = createProcessDriver(),
) {
  const daemon = new HostDaemon({ managerUrl: url, hostId: id, credential, driver, info });
  daemon.start();
  cleanup.push(async () => {
    await daemon.close();
    await driver.close();
  });
  return { daemon, driver };
}

/**
 * The real process driver, but its inventory answers 300 ms after its snapshot:
 * what happens meanwhile (a start, an exit) must not be lost. `taken` settles at
 * the first snapshot; `reports()` counts the inventories answered.
 */
function slowInventory() {
  const real = createProcessDriver();
  let reported = 0;
  let snapshot!: () => void;
  const taken = new Promise<void>((resolve) => {
    snapshot = resolve;
  });
  const driver: Driver = {
    name: real.name,
    start: (s) => real.start(s),
    stop: (id, o) => real.stop(id, o),
    watch: (l) => real.watch(l),
    close: () => real.close(),
    list: async (f) => {
      const guests = await real.list(f);
      snapshot();
      await new Promise((r) => setTimeout(r, 300));
      reported += 1;
      return guests;
    },
  };
  return { real, driver, taken, reports: () => reported };
}

const spec = (instanceId: string): LaunchSpec => ({
  instanceId,
  fleet: "shop",
  fleetId: identity.id,
  service: "app",
  env: { FROCTAL_TOKEN: `token-of-${instanceId}` },
  command: ["/bin/sleep", "600"],
});

async function until<T>(probe: () => T | undefined, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function list(driver: Driver): Promise<string[]> {
  return (await driver.list(identity)).map((g) => g.instanceId).sort();
}

/** A raw host connection: sends what it is given and collects what comes back until the close. */
async function raw(url: string, frames: (Uint8Array | string)[]) {
  const ws = new WebSocket(url);
  await once(ws, "open");
  const got: ReturnType<typeof decodeHostControl>[] = [];
  ws.on("message", (data: Buffer) => got.push(decodeHostControl(new Uint8Array(data))));
  const closed = once(ws, "close") as Promise<[number, Buffer]>;
  for (const f of frames) ws.send(f);
  const [code, reason] = await closed;
  return { got, code, reason: reason.toString() };
}

const hello = (hostId: string, credential: string): HostFrame => ({
  hello: {
    minVersion: MIN_PROTOCOL_VERSION,
    maxVersion: MIN_PROTOCOL_VERSION,
    hostId,
    credential,
    capacity: { cpus: 1, memoryBytes: 1024 },
    features: [],
    drivers: ["process"],
  },
});

describe("hosts endpoint", () => {
  it("places guests across two real hosts, runs them there, and stops each where it runs", async () => {
    const m = await manager();
    const a = host(m.url, "a");
    const b = host(m.url, "b");
    await until(() => (m.hosts.hosts().filter((h) => h.status === "up").length === 2 ? true : undefined), "two hosts");
    await m.hosts.start(spec("app-1"));
    await m.hosts.start(spec("app-2"));
    expect(await list(a.driver)).toEqual(["app-1"]);
    expect(await list(b.driver)).toEqual(["app-2"]);
    expect(await list(m.hosts)).toEqual(["app-1", "app-2"]);
    await until(() => (m.events.filter((e) => e.kind === "started").length === 2 ? true : undefined), "started");
    // Each guest process carries its fleet's id and its host's id.
    for (const e of m.events) {
      if (e.kind !== "started") continue;
      const pid = Number(/^pid (\d+) runs /.exec(e.detail)?.[1]);
      const env = readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
      const hostId = e.instanceId === "app-1" ? "a" : "b";
      expect(env).toEqual(expect.arrayContaining([`FROCTAL_FLEET_ID=${identity.id}`, `FROCTAL_HOST_ID=${hostId}`]));
    }
    await m.hosts.stop("app-2", { graceMs: 1000 });
    expect(await list(b.driver)).toEqual([]);
    const exited = await until(() => m.events.find((e) => e.kind === "exited"), "exited");
    expect(exited).toMatchObject({ kind: "exited", instanceId: "app-2", requested: true });
    expect(m.hosts.hosts().map((h) => [h.id, h.status, h.guests])).toEqual([
      ["a", "up", 1],
      ["b", "up", 0],
    ]);
  });

  it("refuses a wrong credential for good: the daemon stops dialling and says why; the count goes up", async () => {
    const m = await manager();
    const wrong = host(m.url, "a", hostCredential(secret, identity.id, "b"));
    const refusal = await wrong.daemon.finished;
    expect(refusal?.code).toBe("FROCTAL_E_AUTH");
    expect(refusal?.sentence).toBe("the credential presented for host a is not this fleet's for that id");
    expect(m.hosts.hosts()).toEqual([]);
    expect([...m.hosts.stats.rejected]).toEqual([["FROCTAL_E_AUTH", 1]]);
  });

  it("refuses garbage, text, a first frame that is not a hello, and a second hello, and counts each", async () => {
    const m = await manager();
    const garbage = await raw(m.url, [new Uint8Array([0xff, 0xff, 0xff])]);
    expect([garbage.code, garbage.reason, garbage.got[0]?.frame]).toEqual([
      1008,
      "FROCTAL_E_FRAME_MALFORMED",
      "refuse",
    ]);
    const text = await raw(m.url, ["hello"]);
    expect([text.code, text.reason]).toEqual([1008, "FROCTAL_E_FRAME_MALFORMED"]);
    const first = await raw(m.url, [encodeHostFrame({ inventory: { requestId: 0, guests: [] } })]);
    expect([first.code, first.reason]).toEqual([1008, "FROCTAL_E_FRAME_UNEXPECTED"]);
    const good = hello("c", hostCredential(secret, identity.id, "c"));
    const twice = await raw(m.url, [encodeHostFrame(good), encodeHostFrame(good)]);
    expect(twice.got.map((f) => f.frame)).toEqual(["welcome", "refuse"]);
    expect([twice.code, twice.reason]).toEqual([1008, "FROCTAL_E_FRAME_UNEXPECTED"]);
    expect(Object.fromEntries(m.hosts.stats.rejected)).toEqual({
      FROCTAL_E_FRAME_MALFORMED: 2,
      FROCTAL_E_FRAME_UNEXPECTED: 2,
    });
  });

  it("closes a connection whose frame is over the limit before reading it, and serves the next host", async () => {
    const m = await manager();
    const big = await raw(m.url, [new Uint8Array((1 << 20) + 1)]);
    expect(big.code).toBe(1009);
    const a = host(m.url, "a");
    await until(() => (m.hosts.hosts()[0]?.status === "up" ? true : undefined), "host a up");
    await m.hosts.start(spec("app-1"));
    expect(await list(a.driver)).toEqual(["app-1"]);
  });

  it("a host that dies is silent, then lost: its instance is reported exited; the other host carries on", async () => {
    const m = await manager({ lostAfterMs: 300 });
    const a = host(m.url, "a");
    const b = host(m.url, "b");
    await until(() => (m.hosts.hosts().filter((h) => h.status === "up").length === 2 ? true : undefined), "two hosts");
    await m.hosts.start(spec("app-1"));
    await m.hosts.start(spec("app-2"));
    await b.daemon.close();
    const lost = await until(
      () => m.events.find((e) => e.kind === "exited" && e.instanceId === "app-2"),
      "app-2 reported lost",
    );
    expect(lost).toEqual({
      kind: "exited",
      instanceId: "app-2",
      requested: false,
      code: null,
      detail: "host b was lost (silent for 300 ms)",
    });
    expect(m.hosts.hosts().map((h) => [h.id, h.status])).toEqual([
      ["a", "up"],
      ["b", "lost"],
    ]);
    await m.hosts.start(spec("app-3"));
    expect(await list(a.driver)).toEqual(["app-1", "app-3"]);
  });

  it("a guest that exits while its host's report is being taken is not placed after: its exit comes after the report", async () => {
    const m = await manager();
    const { real, driver: slow, taken: listed } = slowInventory();
    await real.start(spec("app-1"));
    host(m.url, "a", undefined, slow);
    // The report says app-1 runs; it stops before the report is sent.
    await listed;
    await real.stop("app-1", { graceMs: 1000 });
    expect(await list(m.hosts)).toEqual([]);
    expect(m.hosts.hostOf("app-1")).toBeUndefined();
    expect([...m.hosts.stats.rejected]).toEqual([]);
  });

  it("a start sent before the host reported its guests is not taken for a guest gone when the report comes", async () => {
    const m = await manager();
    // A start that arrives while the inventory is taken must not finish before the snapshot,
    // or the report would say it is not running.
    const { driver: slow, reports } = slowInventory();
    host(m.url, "a", undefined, slow);
    await until(() => (m.hosts.hosts()[0]?.status === "up" ? true : undefined), "host a up");
    expect(reports()).toBe(0);
    await m.hosts.start(spec("app-1"));
    expect(reports()).toBe(1);
    // One more inventory round trip, so the first report has surely been read.
    expect(await list(m.hosts)).toEqual(["app-1"]);
    expect(m.events.filter((e) => e.kind === "exited")).toEqual([]);
    expect(m.hosts.hostOf("app-1")).toBe("a");
  });
});
