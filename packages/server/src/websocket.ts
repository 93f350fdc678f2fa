/**
 * The WebSocket transport: one binary message is one frame. ws enforces the
 * frame size limit (maxPayload) from the message header, before buffering
 * the body, and closes with 1009 itself; that close cannot carry a Refuse, so
 * an agent reads close code 1009 as FROCTAL_E_FRAME_TOO_LARGE. Every other
 * refusal is a Refuse frame followed by a close whose reason is the code:
 * 1008 (never retry), 1013 (retry later) or 1001 (the manager is shutting down).
 */
import { createServer, type Server as HttpServer, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type { Channel } from "@froctal/manager";
import type { Disposer } from "@froctal/primitives";
import { Disposables, listen } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import type { TransportHost } from "./connection.js";
import type { EndKind, Endpoint, Transport } from "./transport.js";

const CLOSE_CODES: Record<EndKind, number> = { refused: 1008, "retry-later": 1013, shutdown: 1001 };

/**
 * Decides whether an upgrade request comes vouched for: a host relaying the
 * channel of a guest placed on it (the request names the host, its credential
 * and the instance). Returns undefined for a plain agent (identity by token),
 * the instance the connection may speak for, or the refusal.
 */
export type Vouch = (req: IncomingMessage) => { readonly instanceId: string } | FroctalError | undefined;

/** Serves agents on `http`'s upgrade requests for `path`; the disposer stops that (open connections carry on). */
export function attachWebSocket(host: TransportHost, http: HttpServer, path: string, vouch?: Vouch): Disposer {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: host.maxFrameBytes,
    // Compression costs 50-90x in throughput, and a compressed frame's size says nothing about its inflated one.
    perMessageDeflate: false,
    clientTracking: false,
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== path) {
      // Other upgrade handlers may share this server; when there are none, answer rather than leave the socket hanging.
      if (http.listenerCount("upgrade") === 1) {
        socket.on("error", () => {});
        socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
      }
      return;
    }
    const peer = `ws ${req.socket.remoteAddress}:${req.socket.remotePort}`;
    const vouched = vouch?.(req);
    if (vouched instanceof FroctalError) {
      // Refused before the upgrade: an HTTP answer, whose body is the code and the sentence.
      socket.on("error", () => {});
      const body = JSON.stringify({ code: vouched.code, reason: vouched.sentence });
      socket.end(
        `HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const channel = vouched === undefined ? { peer } : { peer: `${peer} vouched`, instanceId: vouched.instanceId };
      serveWebSocket(host, ws, channel);
    });
  };
  http.on("upgrade", onUpgrade);
  return () => {
    http.off("upgrade", onUpgrade);
    wss.close();
  };
}

/** Opens an HTTP server that only serves agents' WebSocket upgrades on `path`. */
export async function listenWebSocket(
  host: TransportHost,
  options: { host?: string; port?: number; path?: string },
): Promise<Endpoint & { readonly port: number; readonly finished: Promise<void> }> {
  const path = options.path ?? "/agent";
  const http = createServer((_req, res) => {
    res.writeHead(426, { "content-type": "text/plain", connection: "close" });
    res.end(`froctal: agents connect here with a WebSocket at ${path}\n`);
  });
  const detach = attachWebSocket(host, http, path);
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port ?? 0, options.host ?? "127.0.0.1", () => {
      http.off("error", reject);
      resolve();
    });
  });
  // After listening, errors on the server are about single connections; they must not crash the manager.
  http.on("error", () => {});
  const finished = new Promise<void>((resolve) => http.once("close", () => resolve()));
  const { address, port, family } = http.address() as AddressInfo;
  const hostname = family === "IPv6" ? `[${address}]` : address;
  let open = true;
  return {
    address: `ws://${hostname}:${port}${path}`,
    port,
    finished,
    close() {
      if (!open) return;
      open = false;
      detach();
      http.close();
      http.closeIdleConnections();
    },
  };
}

/** Runs one accepted WebSocket through the session logic. */
export function serveWebSocket(host: TransportHost, ws: WebSocket, channel: Channel): void {
  const transport: Transport = {
    channel,
    write(frame) {
      if (ws.readyState === ws.OPEN) ws.send(frame, { binary: true });
    },
    buffered: () => ws.bufferedAmount,
    end(kind, code) {
      if (ws.readyState === ws.OPEN) ws.close(CLOSE_CODES[kind], code);
    },
    destroy: () => ws.terminate(),
  };
  const conn = host.connect(transport);
  if (!conn) return;
  const subscriptions = new Disposables();
  subscriptions.add(
    listen(ws, "message", (data: RawData, isBinary: boolean) => {
      if (!isBinary) {
        return conn.refuse(
          new FroctalError("FROCTAL_E_FRAME_MALFORMED", "a text message arrived; frames travel as binary messages"),
        );
      }
      conn.receive(toBytes(data));
    }),
  );
  // ws reports input it rejects itself (over maxPayload, broken WebSocket framing) here, after starting its close.
  subscriptions.add(
    listen(ws, "error", (error: Error & { code?: string }) => {
      const code =
        error.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH" ? "FROCTAL_E_FRAME_TOO_LARGE" : "FROCTAL_E_FRAME_MALFORMED";
      conn.refuse(new FroctalError(code, error.message, { cause: error }));
    }),
  );
  subscriptions.add(
    listen(ws, "close", (code: number) => {
      subscriptions.dispose();
      conn.transportClosed(`the WebSocket closed (${code})`);
    }),
  );
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
