/**
 * The `network` option: guests in a network namespace of their own, with a
 * veth whose other end is in the host's. A real GuestNetwork made of plain
 * `ip netns` and `ip link` (no bridge needed). Needs root.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Driver, LaunchSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { commandSpec, driverWithLog, fixture, isAlive, pidOf, record, rejection, specFor } from "../test/helpers.js";
import { argvOf, KeepPlace } from "../test/keep-helpers.js";
import { guestCommand } from "./guest-command.js";
import { type GuestNetwork, inNetwork } from "./network.js";
import { createProcessDriver } from "./process-driver.js";

const IP = "/usr/sbin/ip";
const run = promisify(execFile);

/** Runs `ip`; its failure as a FroctalError carrying ip's stderr, as a real network would report it. */
async function ip(...args: string[]): Promise<string> {
  try {
    return (await run(IP, args)).stdout;
  } catch (cause) {
    const stderr = (cause as { stderr?: string }).stderr?.trim() ?? String(cause);
    throw new FroctalError("FROCTAL_E_CONFIG", `ip ${args.join(" ")}: ${stderr}`, { cause });
  }
}

const absent = () => {};

/** The names of an instance's network, one /30 each: the guest's end .2, the host's .1. */
interface Names {
  readonly namespace: string;
  readonly host: string;
  readonly guestAddress: string;
  readonly hostAddress: string;
}

/**
 * A GuestNetwork of namespaces and veth pairs, named after this test process
 * and a number per instance id (the same id gets the same names again, so a
 * join before the last leave would fail, as a real one does). Counts its joins, and its leaves once done.
 */
class NetnsNetwork implements GuestNetwork {
  readonly joins: string[] = [];
  readonly leaves: string[] = [];
  readonly #names = new Map<string, Names>();

  names(instanceId: string): Names {
    let names = this.#names.get(instanceId);
    if (names === undefined) {
      const n = this.#names.size + 1;
      const net = `10.${200 + (process.pid % 50)}.${n}`;
      names = {
        namespace: `froctal-dp-${process.pid}-${n}`,
        host: `dp${process.pid % 1_000_000}v${n}`,
        guestAddress: `${net}.2`,
        hostAddress: `${net}.1`,
      };
      this.#names.set(instanceId, names);
    }
    return names;
  }

  async join(spec: LaunchSpec): Promise<readonly string[]> {
    this.joins.push(spec.instanceId);
    const { namespace, host, guestAddress, hostAddress } = this.names(spec.instanceId);
    await ip("netns", "add", namespace);
    await ip("link", "add", host, "type", "veth", "peer", "name", "eth0", "netns", namespace);
    await ip("addr", "add", `${hostAddress}/30`, "dev", host);
    await ip("link", "set", host, "up");
    await ip("-n", namespace, "addr", "add", `${guestAddress}/30`, "dev", "eth0");
    await ip("-n", namespace, "link", "set", "eth0", "up");
    await ip("-n", namespace, "link", "set", "lo", "up");
    return [IP, "netns", "exec", namespace];
  }

  async leave(instanceId: string): Promise<void> {
    await this.#remove(this.names(instanceId));
    // Counted once done, so that a test waiting for the count finds the namespace gone.
    this.leaves.push(instanceId);
  }

  /** Removes every namespace and veth this network named, whatever the test left. */
  async cleanup(): Promise<void> {
    await Promise.all([...this.#names.values()].map((names) => this.#remove(names)));
  }

  async #remove({ namespace, host }: Names): Promise<void> {
    // A namespace a process still holds outlives its deletion, and its veth with it: deleted explicitly.
    await ip("link", "delete", host).catch(absent);
    await ip("netns", "delete", namespace).catch(absent);
  }
}

/** True while the namespace is listed, or its host end exists. */
async function exists({ namespace, host }: Names): Promise<{ namespace: boolean; veth: boolean }> {
  const namespaces = (await ip("netns", "list")).split("\n").map((line) => line.split(" ")[0]);
  const veth = await ip("link", "show", host).then(
    () => true,
    () => false,
  );
  return { namespace: namespaces.includes(namespace), veth };
}

const port = 20_000 + (process.pid % 10_000);

async function get(url: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(2000) });
  return response.text();
}

let net: NetnsNetwork;
const open: Driver[] = [];

beforeEach(() => {
  net = new NetnsNetwork();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((driver) => driver.close()));
  await net.cleanup();
});

describe("process driver: guests in a network of their own", () => {
  it("runs a command guest inside its namespace (it sees lo and its veth alone); its own exit leaves it once", async () => {
    const { driver, lines } = driverWithLog(open, { network: net });
    const { of } = record(driver);
    const script = [
      "for link in $(tail -n +3 /proc/self/net/dev | cut -d: -f1 | tr -d ' ' | sort); do echo \"link $link\"; done",
      "ip -o -4 addr show dev eth0 | awk '{ print \"addr\", $2, $4 }'",
    ].join("\n");
    const spec = commandSpec(["/bin/sh", "-c", script], { env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" } });
    await driver.start(spec);
    await vi.waitFor(() => expect(of(spec.instanceId)).toHaveLength(2));
    expect(of(spec.instanceId)[1]).toMatchObject({ kind: "exited", code: 0, requested: false });
    const names = net.names(spec.instanceId);
    expect(lines.map(({ line }) => line)).toEqual(["link eth0", "link lo", `addr eth0 ${names.guestAddress}/30`]);
    await vi.waitFor(() => expect(net.leaves).toEqual([spec.instanceId]));
    expect(net.joins).toEqual([spec.instanceId]);
    expect(await exists(names)).toEqual({ namespace: false, veth: false });
  });

  it("runs a Node guest reached at its namespace's address from the host end; stop() resolves once it is left", async () => {
    const { driver, lines } = driverWithLog(open, { network: net });
    const { of } = record(driver);
    const spec = specFor("listen.mjs", { env: { LISTEN_HOST: "0.0.0.0", LISTEN_PORT: String(port) } });
    await driver.start(spec);
    await vi.waitFor(() => expect(lines.map(({ line }) => line)).toEqual(["ready"]));
    const pid = pidOf(of(spec.instanceId)[0]);
    const names = net.names(spec.instanceId);
    expect(await get(`http://${names.guestAddress}:${port}/`)).toBe(`hello from ${pid}`);
    // Its 0.0.0.0 is its namespace's: the host's loopback does not reach it.
    await expect(get(`http://127.0.0.1:${port}/`)).rejects.toThrow();
    expect(net.leaves).toEqual([]);

    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(net.leaves).toEqual([spec.instanceId]);
    expect(await exists(names)).toEqual({ namespace: false, veth: false });
    expect(of(spec.instanceId).map((event) => event.kind)).toEqual(["started", "exited"]);
    expect(net.joins).toEqual([spec.instanceId]);
  });

  it("started again while it is being stopped, joins again only once the network is left", async () => {
    const { driver, lines } = driverWithLog(open, { network: net });
    const spec = specFor("listen.mjs", { env: { LISTEN_HOST: "0.0.0.0", LISTEN_PORT: String(port) } });
    await driver.start(spec);
    await vi.waitFor(() => expect(lines.map(({ line }) => line)).toEqual(["ready"]));
    const stopped = driver.stop(spec.instanceId, { graceMs: 5000 });
    // The same names again: joined before the leave, `ip netns add` would fail.
    await driver.start(spec);
    await stopped;
    expect(net.joins).toEqual([spec.instanceId, spec.instanceId]);
    expect(net.leaves).toEqual([spec.instanceId]);
    await vi.waitFor(() => expect(lines.map(({ line }) => line)).toEqual(["ready", "ready"]));
    expect(await get(`http://${net.names(spec.instanceId).guestAddress}:${port}/`)).toMatch(/^hello from \d+$/);
  });

  it("leaves the network of every guest close() stops", async () => {
    const { driver, lines } = driverWithLog(open, { network: net });
    const specs = [0, 1].map((i) =>
      specFor("listen.mjs", { env: { LISTEN_HOST: "0.0.0.0", LISTEN_PORT: String(port + i) } }),
    );
    await Promise.all(specs.map((spec) => driver.start(spec)));
    await vi.waitFor(() => expect(lines.map(({ line }) => line)).toEqual(["ready", "ready"]));
    await driver.close();
    expect([...net.leaves].sort()).toEqual(specs.map((spec) => spec.instanceId).sort());
    for (const spec of specs) {
      expect(await exists(net.names(spec.instanceId))).toEqual({ namespace: false, veth: false });
    }
  });

  it("fails start() with the code of a failing join, spawns nothing and leaves nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "froctal-net-"));
    try {
      const { driver } = driverWithLog(open, { network: net });
      const { events } = record(driver);
      const marker = join(dir, "ran");
      const spec = commandSpec(["/bin/sh", "-c", `touch ${marker}`]);
      // Its namespace exists already: the join's `ip netns add` fails.
      await ip("netns", "add", net.names(spec.instanceId).namespace);
      const error = await rejection(driver.start(spec));
      expect(error.code).toBe("FROCTAL_E_CONFIG");
      expect(error.sentence).toMatch(/^ip netns add froctal-dp-\d+-1: Cannot create namespace file .* File exists$/);
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(existsSync(marker)).toBe(false);
      expect(events).toEqual([]);
      expect(net.joins).toEqual([spec.instanceId]);
      expect(net.leaves).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails start() with FROCTAL_E_INTERNAL, retryable, when the join throws something else", async () => {
    const leaves: string[] = [];
    const network: GuestNetwork = {
      join: async () => {
        throw new Error("no more addresses");
      },
      leave: async (instanceId) => void leaves.push(instanceId),
    };
    const { driver } = driverWithLog(open, { network });
    const spec = specFor("graceful.mjs");
    const error = await rejection(driver.start(spec));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    expect(error.retryable).toBe(true);
    expect(error.sentence).toBe(
      `instance ${spec.instanceId} was not started: its network could not be joined (no more addresses)`,
    );
    expect(leaves).toEqual([]);
  });

  it("fails start() with FROCTAL_E_INTERNAL when the join gives no command prefix, and leaves what it joined", async () => {
    const network: GuestNetwork = {
      join: async (spec) => {
        await net.join(spec);
        return ["", "netns"];
      },
      leave: (instanceId) => net.leave(instanceId),
    };
    const { driver } = driverWithLog(open, { network });
    const spec = specFor("graceful.mjs");
    const error = await rejection(driver.start(spec));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    expect(error.sentence).toBe(
      `instance ${spec.instanceId} was not started: its network gave ["","netns"], not a command prefix`,
    );
    expect(net.leaves).toEqual([spec.instanceId]);
    expect(await exists(net.names(spec.instanceId))).toEqual({ namespace: false, veth: false });
  });
});

describe("lifeline: a guest behind `ip netns exec` still dies with its manager", () => {
  const managers: ChildProcess[] = [];
  const guests: number[] = [];

  afterEach(() => {
    for (const manager of managers.splice(0)) manager.kill("SIGKILL");
    for (const pid of guests.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  });

  for (const asCommand of [false, true]) {
    it(`${asCommand ? "a command guest (its watcher)" : "an image guest (its preload)"} gets SIGTERM when the manager is SIGKILLed`, async () => {
      const dir = await mkdtemp(join(tmpdir(), "froctal-net-"));
      try {
        const spec = asCommand ? commandSpec([process.execPath, fixture("graceful.mjs")]) : specFor("graceful.mjs");
        const plain = guestCommand(spec, asCommand ? process.execPath : fixture("graceful.mjs"), {
          execPath: process.execPath,
          inheritEnv: ["PATH"],
          orphanGraceMs: 5000,
        });
        const command = inNetwork(plain, await net.join(spec));
        const output = join(dir, "guest.log");
        // Spawns the command as guest.ts does (detached, the lifeline on fd 3), prints the pid, waits to be killed.
        const manager = spawn(process.execPath, [fixture("fake-manager.mjs"), JSON.stringify(command), output], {
          stdio: ["ignore", "pipe", "inherit"],
        });
        managers.push(manager);
        const pid = await new Promise<number>((resolve) =>
          manager.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim()))),
        );
        guests.push(pid);
        await vi.waitFor(async () => expect(await readFile(output, "utf8")).toBe("ready\n"));
        expect(await readlink(`/proc/${pid}/ns/net`)).not.toBe(await readlink("/proc/self/ns/net"));
        manager.kill("SIGKILL");
        await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 3000 });
        expect(await readFile(output, "utf8")).toBe("ready\nstopping\n");
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }
});

describe("process driver, keep mode: guests in a network of their own", () => {
  let place: KeepPlace;

  beforeEach(async () => {
    place = await KeepPlace.make();
  });

  afterEach(async () => {
    await Promise.all(open.splice(0).map((driver) => driver.close()));
    await place.cleanup();
  });

  function keepingDriver() {
    const driver = createProcessDriver({ keep: place.keep(), network: net });
    open.push(driver);
    return driver;
  }

  it("a released guest keeps its network; the driver that adopts it does not join again, and leaves on stop", async () => {
    const first = keepingDriver();
    const { of } = record(first);
    const spec = specFor("listen.mjs", { env: { LISTEN_HOST: "0.0.0.0", LISTEN_PORT: String(port) } });
    await first.start(spec);
    const pid = pidOf(of(spec.instanceId)[0]);
    place.killLater(pid);
    await vi.waitFor(async () => expect(await place.log(spec.instanceId)).toBe("ready\n"));
    // `ip netns exec` ran the guest in place: the recorded pid is Node's now.
    expect(argvOf(pid)).toEqual([process.execPath, fixture("listen.mjs")]);
    expect(place.records.all().map((kept) => kept.pid)).toEqual([pid]);
    const names = net.names(spec.instanceId);
    await first.close();
    expect(net.leaves).toEqual([]);
    expect(await get(`http://${names.guestAddress}:${port}/`)).toBe(`hello from ${pid}`);

    const second = keepingDriver();
    expect(await second.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    await second.start(spec);
    expect(net.joins).toEqual([spec.instanceId]);
    await second.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
    expect(net.leaves).toEqual([spec.instanceId]);
    expect(await exists(names)).toEqual({ namespace: false, veth: false });
    // The first driver, released, saw its child exit too, and left nothing.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(net.leaves).toEqual([spec.instanceId]);
  });

  it("leaves the network of a guest killed because its record could not be kept, once it is gone", async () => {
    const records = {
      all: () => place.records.all(),
      put: () => {
        throw new Error("disk full");
      },
      delete: (instanceId: string) => place.records.delete(instanceId),
    };
    const driver = createProcessDriver({ keep: { ...place.keep(), records }, network: net });
    open.push(driver);
    const spec = specFor("graceful.mjs");
    const error = await rejection(driver.start(spec));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    await vi.waitFor(() => expect(net.leaves).toEqual([spec.instanceId]));
    expect(await exists(net.names(spec.instanceId))).toEqual({ namespace: false, veth: false });
    expect(net.joins).toEqual([spec.instanceId]);
  });
});
