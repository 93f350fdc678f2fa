/**
 * A minimal protocol-speaking peer for the cases the real server never
 * produces: malformed or out-of-turn frames, withheld acks, a reader that
 * stops reading. Over a real WebSocket (127.0.0.1) or a real unix socket.
 */
import { createServer, type Socket } from "node:net";
import {
  type CheckedAgentFrame,
  decodeAgentFrame,
  encodeDelimited,
  encodeManagerFrame,
  FrameReader,
  type ManagerFrame,
} from "@froctal/protocol";
import { type WebSocket, WebSocketServer } from "ws";
import type { Kind } from "./harness.js";
import { socketPath } from "./harness.js";

export interface RawConnection {
  /** Every frame the agent sent on this connection, decoded and checked. */
  readonly frames: CheckedAgentFrame[];
  send(frame: ManagerFrame): void;
  /** Sends bytes as one frame (one binary message, or behind a varint length). */
  sendFrameBytes(bytes: Uint8Array): void;
  /** Writes bytes with no framing at all (byte streams), or a text message (WebSocket). */
  sendGarbage(bytes: Uint8Array): void;
  /** Stops reading (the agent's writes back up), and starts again. */
  pause(): void;
  resume(): void;
  drop(): void;
  readonly closed: boolean;
}

export interface RawManager {
  readonly url: string;
  readonly connections: RawConnection[];
  close(): Promise<void>;
}

export type OnFrame = (conn: RawConnection, frame: CheckedAgentFrame) => void;

/** Answers a hello with a ManagerHello (acked_seq 0) and acks every batch: override per test. */
export const polite: OnFrame = (conn, frame) => {
  if (frame.frame === "hello") conn.send(managerHello());
  if (frame.frame === "batch" && frame.batch.events.length > 0) {
    conn.send({ ack: { seq: frame.batch.firstSeq + frame.batch.events.length - 1 } });
  }
};

export function managerHello(fields: Partial<NonNullable<ManagerFrame["hello"]>> = {}): ManagerFrame {
  return {
    hello: {
      version: 1,
      sessionId: "raw",
      ackedSeq: 0,
      maxFrameBytes: 1 << 20,
      maxBatchEvents: 4096,
      heartbeatMs: 0,
      ...fields,
    },
  };
}

export async function startRawManager(kind: Kind, onFrame: OnFrame = polite): Promise<RawManager> {
  const connections: RawConnection[] = [];
  const receive = (conn: RawConnection, bytes: Uint8Array) => {
    const frame = decodeAgentFrame(bytes);
    conn.frames.push(frame);
    onFrame(conn, frame);
  };
  if (kind === "ws") {
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0, perMessageDeflate: false });
    await new Promise<void>((resolve) => wss.once("listening", () => resolve()));
    wss.on("connection", (ws: WebSocket) => {
      const conn = wsConnection(ws);
      connections.push(conn);
      ws.on("message", (data: Buffer) => receive(conn, data));
    });
    const port = (wss.address() as { port: number }).port;
    return {
      url: `ws://127.0.0.1:${port}/agent`,
      connections,
      close: async () => {
        for (const c of connections) c.drop();
        await new Promise((resolve) => wss.close(resolve));
      },
    };
  }
  const path = socketPath();
  const server = createServer((socket) => {
    const conn = streamConnection(socket);
    connections.push(conn);
    const reader = new FrameReader(1 << 20);
    socket.on("data", (chunk) => {
      for (const frame of reader.push(chunk)) receive(conn, frame);
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  return {
    url: `unix:${path}`,
    connections,
    close: async () => {
      for (const c of connections) c.drop();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

function wsConnection(ws: WebSocket): RawConnection {
  let closed = false;
  ws.on("close", () => {
    closed = true;
  });
  ws.on("error", () => {});
  const socket = (ws as unknown as { _socket: Socket })._socket;
  return {
    frames: [],
    send: (frame) => ws.send(encodeManagerFrame(frame)),
    sendFrameBytes: (bytes) => ws.send(bytes, { binary: true }),
    sendGarbage: (bytes) => ws.send(bytes, { binary: false }),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    drop: () => ws.terminate(),
    get closed() {
      return closed;
    },
  };
}

function streamConnection(socket: Socket): RawConnection {
  let closed = false;
  socket.on("close", () => {
    closed = true;
  });
  socket.on("error", () => {});
  return {
    frames: [],
    send: (frame) => socket.write(encodeDelimited(encodeManagerFrame(frame))),
    sendFrameBytes: (bytes) => socket.write(encodeDelimited(bytes)),
    sendGarbage: (bytes) => socket.write(bytes),
    pause: () => socket.pause(),
    resume: () => socket.resume(),
    drop: () => socket.destroy(),
    get closed() {
      return closed;
    },
  };
}
