// A HostDaemon given every manager's address (a fleet with standbys) finds the one that leads by trying the
// next: real WebSocket /host endpoints on 127.0.0.1 that speak host.proto, real TCP listeners and closed ports.
// The driver runs no guests: what is under test is the link, not the driver (driver-hosts tests that pairing).
import { once } from "node:events";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Server } from "node:net";
import type { Driver } from "@froctal/manager";
import { type Clock, FroctalError, systemClock, VirtualClock } from "@froctal/primitives";
import { type CheckedHostFrame, decodeHostFrame, encodeHostControl, PROTOCOL_VERSION } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { HostDaemon } from "./daemon.js";
import { parseManagerUrls } from "./link.js";

const fleetId = "0123456789abcdef0123456789abcdef";
const info = { cpus: 2, memoryBytes: 1 << 30, features: [], drivers: ["none"] };

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

/** A driver with no guests. */
const idle: Driver = {
  name: "none",
  start: async () => {},
  stop: async () => {},
  list: async () => [],
  watch: () => () => {},
  close: async () => {},
};

/** A manager's /host endpoint: records each host's frames; welcomes them unless `silent` (one that never answers). */
async function endpoint(options: { port?: number; silent?: boolean } = {}) {
  const http = createHttpServer((_req, res) => res.writeHead(404).end());
  const wss = new WebSocketServer({ server: http, path: "/host" });
  const frames: CheckedHostFrame["frame"][] = [];
  let hellos = 0;
  wss.on("connection", (ws) => {
    ws.on("message", (data: Buffer) => {
      const frame = decodeHostFrame(new Uint8Array(data));
      frames.push(frame.frame);
      if (frame.frame !== "hello") return;
      hellos++;
      if (options.silent) return;
      const welcome = {
        version: PROTOCOL_VERSION,
        sessionId: `s${hellos}`,
        fleet: "shop",
        fleetId,
        maxFrameBytes: 1 << 20,
      };
      ws.send(encodeHostControl({ welcome }));
    });
  });
  http.listen(options.port ?? 0, "127.0.0.1");
  await once(http, "listening");
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const ws of wss.clients) ws.terminate();
    wss.close();
    await new Promise<void>((done) => http.close(() => done()));
  };
  cleanup.push(close);
  const port = (http.address() as AddressInfo).port;
  return {
    port,
    url: `ws://127.0.0.1:${port}/host`,
    frames,
    get hellos() {
      return hellos;
    },
    close,
  };
}

/** A port where connections are accepted and cut at once, counted in order. */
async function cutting(name: string, log: string[]): Promise<string> {
  const server: Server = createNetServer((socket) => {
    log.push(name);
    socket.destroy();
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  cleanup.push(() => new Promise<void>((done) => server.close(() => done())));
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}/host`;
}

/** A port that was free a moment ago: nothing listens there (a standby manager). */
async function closedPort(): Promise<number> {
  const probe = createNetServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((done) => probe.close(() => done()));
  return port;
}

function daemon(managerUrl: string | readonly string[], options: { clock?: Clock; welcomeTimeoutMs?: number } = {}) {
  const d = new HostDaemon({
    managerUrl,
    hostId: "h1",
    credential: "c",
    driver: idle,
    info,
    clock: options.clock ?? systemClock,
    ...(options.welcomeTimeoutMs === undefined ? {} : { welcomeTimeoutMs: options.welcomeTimeoutMs }),
  });
  d.start();
  cleanup.push(() => d.close());
  return d;
}

async function until(what: string, check: () => boolean, step: () => void = () => {}, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    step();
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a HostDaemon given several managers", () => {
  it("skips an address with no port open and joins the manager at the next", async () => {
    const standby = await closedPort();
    const leader = await endpoint();
    daemon(`ws://127.0.0.1:${standby}/host,${leader.url}`);
    await until("the inventory", () => leader.frames.length === 2);
    expect(leader.frames).toEqual(["hello", "inventory"]);
  });

  it("follows the leader: when its manager dies it moves on, and joins where a manager comes up", async () => {
    const portA = await closedPort();
    const b = await endpoint();
    daemon([`ws://127.0.0.1:${portA}/host`, b.url]);
    await until("joined b", () => b.frames.length === 2);
    await b.close(); // the leader dies
    await sleep(300); // a few rounds over two dead addresses
    const a = await endpoint({ port: portA }); // the standby takes over on its own port
    await until("joined a", () => a.frames.length === 2);
    expect(a.frames).toEqual(["hello", "inventory"]);
    expect(b.hellos).toBe(1);
  });

  it("stays on the manager that welcomed it when the connection drops and the others are dead", async () => {
    const dead = await closedPort();
    const leader = await endpoint();
    daemon([leader.url, `ws://127.0.0.1:${dead}/host`]);
    await until("joined", () => leader.frames.length === 2);
    // Cut the connection from the manager's side; the manager lives on.
    const { port } = leader;
    await leader.close();
    const again = await endpoint({ port });
    await until("joined again", () => again.frames.length === 2);
    expect(again.frames).toEqual(["hello", "inventory"]);
  });

  it("moves on from a manager that does not welcome it in time", async () => {
    const silent = await endpoint({ silent: true });
    const leader = await endpoint();
    daemon([silent.url, leader.url], { welcomeTimeoutMs: 200 });
    await until("joined the leader", () => leader.frames.length === 2);
    expect(silent.frames).toEqual(["hello"]);
    expect(leader.frames).toEqual(["hello", "inventory"]);
  });

  it("tries every address once a round and waits between rounds, so dead addresses do not spin", async () => {
    const seen: string[] = [];
    const urls = [await cutting("a", seen), await cutting("b", seen), await cutting("c", seen)];
    const clock = new VirtualClock();
    daemon(urls, { clock });
    // Within a round the next address is dialled at once (a 0 ms timer on the daemon's clock).
    await until(
      "a round",
      () => seen.length === 3,
      () => clock.advance(0),
    );
    await sleep(100);
    clock.advance(0);
    await sleep(50);
    expect(seen).toEqual(["a", "b", "c"]); // the round is over: nothing until the first wait, 50 ms, passes
    clock.advance(49);
    await sleep(50);
    expect(seen).toHaveLength(3);
    clock.advance(1);
    await until(
      "the second round",
      () => seen.length === 6,
      () => clock.advance(0),
    );
    expect(seen).toEqual(["a", "b", "c", "a", "b", "c"]);
    await sleep(100);
    clock.advance(99); // the second wait is 100 ms
    await sleep(50);
    expect(seen).toHaveLength(6);
  });
});

describe("parseManagerUrls", () => {
  const error = (value: string | readonly string[]) => {
    try {
      parseManagerUrls(value, "--manager");
    } catch (err) {
      expect(err).toBeInstanceOf(FroctalError);
      expect((err as FroctalError).code).toBe("FROCTAL_E_CONFIG");
      return (err as FroctalError).sentence;
    }
    throw new Error("expected FROCTAL_E_CONFIG");
  };

  it("reads one address, a comma-separated list or an array, in order", () => {
    expect(parseManagerUrls("ws://m1:7070/host", "x")).toEqual(["ws://m1:7070/host"]);
    expect(parseManagerUrls("ws://m1:7070/host, wss://m2/host", "x")).toEqual(["ws://m1:7070/host", "wss://m2/host"]);
    expect(parseManagerUrls(["ws://m1:7070/host", "ws://m2:7070/host"], "x")).toEqual([
      "ws://m1:7070/host",
      "ws://m2:7070/host",
    ]);
  });

  it("refuses empty entries, duplicates, other schemes and an empty list, naming the entry", () => {
    const tail = "; use ws://host:port/host[,ws://host2:port/host...]";
    expect(error("ws://a/host,,ws://b/host")).toBe(
      `--manager is not a manager address or a list of them (entry 2 is empty): "ws://a/host,,ws://b/host"${tail}`,
    );
    expect(error("ws://a:80/host,ws://a/host")).toBe(
      `--manager is not a manager address or a list of them (entry 2, "ws://a/host", is given twice): "ws://a:80/host,ws://a/host"${tail}`,
    );
    expect(error("ws://a/host,http://b/host")).toContain('(entry 2, "http://b/host", is not ws:// or wss://)');
    expect(error("nope")).toContain("(the address is not a URL)");
    expect(error("")).toContain("(it is empty)");
    expect(error([])).toContain("(it is empty)");
  });
});
