/**
 * Real managers for integration tests: @froctal/server with its recording
 * ingest, over a real WebSocket (on 127.0.0.1) or a real unix socket. The
 * harness owns the listening sockets so a test can drop every connection
 * from the server side, the way a crash or a network cut would.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer } from "node:http";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Batch, Limits } from "@froctal/protocol";
import { createAgentServer, createRecordingIngest, type RecordingIngest } from "@froctal/server";

export type Kind = "ws" | "unix";

export const TOKEN = "t0ken";

export interface TestManager {
  readonly url: string;
  readonly ingest: RecordingIngest;
  readonly server: ReturnType<typeof createAgentServer>;
  /** Connections accepted so far (TCP or unix), whether or not their hello was. */
  readonly accepted: number;
  /** While true, batches are taken but not applied (and so not acked): the manager "lost" them. */
  hold: boolean;
  /** Every batch taken, in order (applied or not). */
  readonly batches: readonly Batch[];
  /** Destroys every connection from the server side. */
  drop(): void;
  close(): Promise<void>;
}

export interface ManagerOptions {
  readonly limits?: Partial<Limits>;
  readonly heartbeatMs?: number;
  /** Listen where an agent already looks: a unix socket path, or a WebSocket port on 127.0.0.1. */
  readonly path?: string;
  readonly port?: number;
  /** Unix only: treat every connection as this instance's own channel (a per-domain virtio-serial socket): no token needed. */
  readonly channelInstanceId?: string;
  /** Extra instances' tokens. */
  readonly tokens?: Record<string, string>;
}

const dirs: string[] = [];

/** A fresh unix socket path in a private temp dir (removed by cleanupDirs). */
export function socketPath(name = "manager.sock"): string {
  const dir = mkdtempSync(join(tmpdir(), "froctal-agent-"));
  dirs.push(dir);
  return join(dir, name);
}

export function cleanupDirs(): void {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export async function startManager(kind: Kind, options: ManagerOptions = {}): Promise<TestManager> {
  const tokens = new Map(Object.entries({ "web-1": TOKEN, ...options.tokens }));
  const recording = createRecordingIngest({ tokens });
  const state = { hold: false };
  const batches: Batch[] = [];
  // The recording ingest, except that while `hold` is set batches vanish unapplied (and so unacknowledged).
  const ingest: RecordingIngest = Object.create(recording, {
    batch: {
      value: (session: Parameters<RecordingIngest["batch"]>[0], batch: Batch) => {
        batches.push(batch);
        if (!state.hold) recording.batch(session, batch);
      },
    },
  });
  const server = createAgentServer({
    ingest,
    limits: options.limits,
    heartbeatMs: options.heartbeatMs ?? 60_000,
    closeGraceMs: 200,
  });
  const sockets = new Set<Socket>();
  let accepted = 0;
  const track = (socket: Socket) => {
    accepted++;
    sockets.add(socket);
    socket.once("close", () => sockets.delete(socket));
  };
  let url: string;
  let stop: () => Promise<void>;
  if (kind === "ws") {
    const http = createHttpServer();
    http.on("connection", track);
    const detach = server.attachWebSocket(http, { path: "/agent" });
    await new Promise<void>((resolve) => http.listen(options.port ?? 0, "127.0.0.1", resolve));
    url = `ws://127.0.0.1:${(http.address() as AddressInfo).port}/agent`;
    stop = async () => {
      detach();
      await new Promise((resolve) => http.close(resolve));
    };
  } else {
    const path = options.path ?? socketPath();
    const net = createNetServer((socket) => {
      track(socket);
      const peer = `unix test #${accepted}`;
      server.serveStream(
        socket,
        options.channelInstanceId ? { peer, instanceId: options.channelInstanceId } : { peer },
      );
    });
    await new Promise<void>((resolve) => net.listen(path, resolve));
    url = `unix:${path}`;
    stop = async () => {
      await new Promise((resolve) => net.close(resolve));
    };
  }
  return {
    url,
    ingest,
    server,
    get accepted() {
      return accepted;
    },
    batches,
    get hold() {
      return state.hold;
    },
    set hold(value: boolean) {
      state.hold = value;
    },
    drop() {
      for (const socket of sockets) socket.destroy();
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await server.close();
      await stop();
    },
  };
}

/** A port on 127.0.0.1 that was free a moment ago. */
export async function freePort(): Promise<number> {
  const probe = createNetServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** Resolves once `check` returns true (polled every few ms), or fails after `timeoutMs` naming `what`. */
export async function waitFor(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** The app events an instance's stream delivered, as [seq, name, payload JSON]. */
export function appEvents(ingest: RecordingIngest, instanceId = "web-1"): [number, string, unknown][] {
  return ingest.events
    .filter((r) => r.instanceId === instanceId && r.event.kind === "app")
    .map((r) => {
      const app = r.event.kind === "app" ? r.event.app : undefined;
      const text = new TextDecoder().decode(app?.payload);
      return [r.seq, app?.name ?? "", text ? JSON.parse(text) : undefined];
    });
}

/** Everything a test opened, closed after it whatever happened. */
export class Cleanup {
  private readonly tasks: (() => unknown)[] = [];

  add<T extends { close(): unknown }>(thing: T): T {
    this.tasks.push(() => thing.close());
    return thing;
  }

  async run(): Promise<void> {
    for (const task of this.tasks.splice(0).reverse()) {
      try {
        await task();
      } catch {
        // Best effort: one failing close must not hide the others.
      }
    }
    cleanupDirs();
  }
}
