/**
 * Test kit for the server: hand-built frames, raw agents that speak bytes
 * over real sockets (a ws client, a net client on a unix socket), and a
 * harness that starts a real server on either transport (virtual time comes
 * from @froctal/primitives' VirtualClock).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Ingest } from "@froctal/manager";
import {
  type AgentFrame,
  type CheckedManagerFrame,
  decodeManagerFrame,
  encodeAgentFrame,
  encodeDelimited,
  FrameReader,
} from "@froctal/protocol";
import WebSocket from "ws";
import {
  type AgentServer,
  type AgentServerOptions,
  createAgentServer,
  createRecordingIngest,
  type RecordingIngest,
} from "../src/index.js";

export type HelloFields = NonNullable<AgentFrame["hello"]>;
export type BatchFields = NonNullable<AgentFrame["batch"]>;

export const TOKENS = new Map([
  ["web-1", "secret-1"],
  ["web-2", "secret-2"],
]);

export function hello(fields: Partial<HelloFields> = {}): AgentFrame {
  return {
    hello: {
      minVersion: 1,
      maxVersion: 1,
      instanceId: "web-1",
      token: "secret-1",
      streamId: "stream-a",
      build: { app: "web", appVersion: "1.0.0", agentVersion: "0.1.0", features: ["tls"], platform: "test" },
      ...fields,
    },
  };
}

/** A batch of `count` app events numbered from `firstSeq`, plus whatever else is given. */
export function batch(firstSeq: number, count: number, fields: Partial<BatchFields> = {}): AgentFrame {
  const events = Array.from({ length: count }, (_, i) => ({
    atMs: 1_700_000_000_000 + i,
    app: { name: "request.done", payload: new TextEncoder().encode(`{"n":${firstSeq + i}}`) },
  }));
  return { batch: { firstSeq: count > 0 ? firstSeq : 0, events, sentAtMs: 1_700_000_000_000, ...fields } };
}

type Kind = CheckedManagerFrame["frame"];
type FrameOf<K extends Kind> = Extract<CheckedManagerFrame, { frame: K }>;

/** An agent that speaks raw frames: nothing of the agent library, so anything can be sent. */
export interface RawAgent {
  send(frame: AgentFrame): void;
  /** Bytes exactly as given: one WebSocket binary message, or written to the stream as they are. */
  sendRaw(bytes: Uint8Array): void;
  /** The next frame the manager sent. */
  next(): Promise<CheckedManagerFrame>;
  nextOf<K extends Kind>(kind: K): Promise<FrameOf<K>>;
  /** Every frame received so far. */
  readonly received: readonly CheckedManagerFrame[];
  /** Resolves when the connection has closed; for WebSocket, with the close code and reason. */
  readonly closed: Promise<{ code?: number; reason?: string }>;
  /** Stops reading from the socket, so the server's writes back up. */
  pause(): void;
  close(): void;
}

class Inbox {
  readonly received: CheckedManagerFrame[] = [];
  private read = 0;
  private waiter: (() => void) | undefined;

  push(bytes: Uint8Array): void {
    this.received.push(decodeManagerFrame(bytes));
    this.waiter?.();
  }

  async next(timeoutMs = 3_000): Promise<CheckedManagerFrame> {
    const deadline = Date.now() + timeoutMs;
    while (this.read >= this.received.length) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new Error(`no frame within ${timeoutMs} ms; got ${JSON.stringify(this.received.map((f) => f.frame))}`);
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = undefined;
    }
    return this.received[this.read++]!;
  }

  async nextOf<K extends Kind>(kind: K): Promise<FrameOf<K>> {
    const frame = await this.next();
    if (frame.frame !== kind) throw new Error(`expected ${kind}, got ${JSON.stringify(frame)}`);
    return frame as FrameOf<K>;
  }
}

export async function wsAgent(url: string): Promise<RawAgent> {
  const ws = new WebSocket(url);
  const inbox = new Inbox();
  ws.on("message", (data: Buffer) => inbox.push(data));
  ws.on("error", () => {});
  const closed = new Promise<{ code?: number; reason?: string }>((resolve) =>
    ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return {
    send: (frame) => ws.send(encodeAgentFrame(frame)),
    sendRaw: (bytes) => ws.send(bytes),
    next: () => inbox.next(),
    nextOf: (kind) => inbox.nextOf(kind),
    received: inbox.received,
    closed,
    pause: () => ws.pause(),
    close: () => ws.close(),
  };
}

export async function streamAgent(path: string): Promise<RawAgent> {
  const socket: Socket = connect(path);
  const inbox = new Inbox();
  const reader = new FrameReader(1 << 24);
  socket.on("data", (chunk) => {
    for (const frame of reader.push(chunk)) inbox.push(frame);
  });
  socket.on("error", () => {});
  const closed = new Promise<{ code?: number; reason?: string }>((resolve) => socket.on("close", () => resolve({})));
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  return {
    send: (frame) => socket.write(encodeDelimited(encodeAgentFrame(frame))),
    sendRaw: (bytes) => socket.write(bytes),
    next: () => inbox.next(),
    nextOf: (kind) => inbox.nextOf(kind),
    received: inbox.received,
    closed,
    pause: () => socket.pause(),
    close: () => socket.end(),
  };
}

/** Which real transport a test runs over. */
export type TransportKind = "ws" | "unix";

export interface Harness {
  readonly server: AgentServer;
  readonly ingest: RecordingIngest;
  readonly address: string;
  connect(): Promise<RawAgent>;
  close(): Promise<void>;
}

/** A real server on a real socket: ws on 127.0.0.1, port 0, or a unix socket in a fresh temp dir. */
export async function start(
  transport: TransportKind,
  options: Partial<AgentServerOptions> & { wrap?: (ingest: RecordingIngest) => Ingest } = {},
): Promise<Harness> {
  const ingest = createRecordingIngest({ tokens: TOKENS });
  const { wrap, ...rest } = options;
  const server = createAgentServer({ ...rest, ingest: wrap ? wrap(ingest) : ingest });
  const dir = mkdtempSync(join(tmpdir(), "froctal-server-"));
  const endpoint =
    transport === "ws" ? await server.listenWebSocket({ port: 0 }) : await server.listenUnix(join(dir, "agent.sock"));
  return {
    server,
    ingest,
    address: endpoint.address,
    connect: () => (transport === "ws" ? wsAgent(endpoint.address) : streamAgent(endpoint.address)),
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
