import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { accessSync, constants } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * Real etcd members for the tests: Debian's etcd binary, unpacked by
 * `tools/setup/ensure.sh --test` into tools/setup/.cache (or on PATH), each
 * member with its own data dir in a temp folder and free loopback ports
 * (never 2379/2380, where a system etcd may listen). SIGKILLed at stop().
 */
const CACHED = fileURLToPath(new URL("../../setup/.cache/etcd", import.meta.url));
const HEALTHY_WITHIN_MS = 15_000;

export function etcdBinary(): string {
  const candidates = [CACHED, ...(process.env.PATH ?? "").split(delimiter).map((dir) => join(dir, "etcd"))];
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // Not this one: try the next.
    }
  }
  throw new Error(
    `no etcd binary at ${CACHED} or on PATH: run \`tools/setup/ensure.sh --test\`, which unpacks Debian's etcd-server`,
  );
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

export interface Member {
  readonly name: string;
  readonly clientUrl: string;
  readonly running: boolean;
  kill(): Promise<void>;
  /** SIGSTOP: it holds its connections but answers nothing, as a hung machine would. */
  freeze(): void;
  /** SIGCONT after freeze(). */
  thaw(): void;
  /** Starts it again on its own data dir and ports. */
  start(): void;
}

export interface Cluster {
  readonly members: readonly Member[];
  readonly endpoints: readonly string[];
  /** Resolves once every running member answers /health with "true". */
  healthy(): Promise<void>;
  stop(): Promise<void>;
}

export async function startCluster(size: number): Promise<Cluster> {
  const binary = etcdBinary();
  const root = await mkdtemp(join(tmpdir(), "froctal-etcd-"));
  const token = randomBytes(8).toString("hex");
  const specs: { name: string; client: string; peer: string }[] = [];
  for (let i = 0; i < size; i++)
    specs.push({
      name: `m${i}`,
      client: `http://127.0.0.1:${await freePort()}`,
      peer: `http://127.0.0.1:${await freePort()}`,
    });
  const initial = specs.map((s) => `${s.name}=${s.peer}`).join(",");
  const members = specs.map((spec) => {
    let child: ChildProcess | undefined;
    const args = [
      `--name=${spec.name}`,
      `--data-dir=${join(root, spec.name)}`,
      `--listen-client-urls=${spec.client}`,
      `--advertise-client-urls=${spec.client}`,
      `--listen-peer-urls=${spec.peer}`,
      `--initial-advertise-peer-urls=${spec.peer}`,
      `--initial-cluster=${initial}`,
      `--initial-cluster-token=${token}`,
      "--initial-cluster-state=new",
      "--logger=zap",
      "--log-level=error",
      // Quicker raft elections than the defaults (100/1000 ms): the tests kill members on purpose.
      "--heartbeat-interval=50",
      "--election-timeout=500",
    ];
    const member = {
      name: spec.name,
      clientUrl: spec.client,
      get running() {
        return child !== undefined && child.exitCode === null && child.signalCode === null;
      },
      start() {
        child = spawn(binary, args, { stdio: "ignore" });
      },
      freeze() {
        child?.kill("SIGSTOP");
      },
      thaw() {
        child?.kill("SIGCONT");
      },
      async kill() {
        const running = child;
        if (running === undefined || running.exitCode !== null || running.signalCode !== null) return;
        const exited = new Promise((resolve) => running.once("exit", resolve));
        running.kill("SIGKILL");
        await exited;
      },
    };
    member.start();
    return member;
  });
  const cluster: Cluster = {
    members,
    endpoints: specs.map((s) => s.client),
    async healthy() {
      const end = Date.now() + HEALTHY_WITHIN_MS;
      for (const member of members.filter((m) => m.running)) {
        for (;;) {
          if (await isHealthy(member.clientUrl)) break;
          if (Date.now() > end)
            throw new Error(`etcd member ${member.name} was not healthy within ${HEALTHY_WITHIN_MS} ms`);
          await new Promise((resolve) => setTimeout(resolve, 50));
        }
      }
    },
    async stop() {
      await Promise.all(members.map((m) => m.kill()));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    await cluster.healthy();
  } catch (error) {
    await cluster.stop();
    throw error;
  }
  return cluster;
}

async function isHealthy(clientUrl: string): Promise<boolean> {
  try {
    const response = await fetch(`${clientUrl}/health`, { signal: AbortSignal.timeout(1000) });
    return ((await response.json()) as { health?: string }).health === "true";
  } catch {
    return false;
  }
}
