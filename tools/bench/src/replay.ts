/**
 * A raw WebSocket client in a child process that replays prebuilt frames to
 * the server as fast as the socket takes them: many frames per write, no
 * agent logic. Against it the server runs at its own limit, which tells the
 * server's share of an end-to-end figure from the agent's.
 *
 * IPC in: {type: "start", url, hello, preamble, frames}; out: {type: "connected"}.
 * The preamble frames (metric declarations, say) are written once, after the hello.
 * It writes until it is disconnected or killed, and never outlives MAX_LIFE_MS.
 */
import { randomBytes } from "node:crypto";
import { request } from "node:http";
import type { Socket } from "node:net";

const MAX_LIFE_MS = 60_000;
/** Bytes per write: enough frames that the per-write cost vanishes. */
const CHUNK_BYTES = 256 << 10;

setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();
process.on("disconnect", () => process.exit(0));

/** One client-to-server binary message; the all-zero mask leaves the payload as it is. */
function wsFrame(payload: Uint8Array): Buffer {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65_536 ? 4 : 10;
  const out = Buffer.alloc(header + 4 + n);
  out[0] = 0x82;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65_536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  out.set(payload, header + 4);
  return out;
}

function start(url: string, hello: Uint8Array, preamble: readonly Uint8Array[], frames: readonly Uint8Array[]): void {
  if (frames.length === 0) process.exit(2);
  const target = new URL(url);
  const framed = frames.map(wsFrame);
  const parts: Buffer[] = [];
  let size = 0;
  while (size < CHUNK_BYTES) {
    for (const f of framed) {
      parts.push(f);
      size += f.length;
    }
  }
  const chunk = Buffer.concat(parts);
  const req = request({
    host: target.hostname,
    port: target.port,
    path: target.pathname,
    headers: {
      Connection: "Upgrade",
      Upgrade: "websocket",
      "Sec-WebSocket-Version": "13",
      "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
    },
  });
  req.on("upgrade", (_res, socket: Socket) => {
    socket.setNoDelay(true);
    let open = false;
    // The first bytes back are the ManagerHello: the session is open. Later ones (acks) are read and dropped.
    socket.on("data", () => {
      if (open) return;
      open = true;
      for (const f of preamble) socket.write(wsFrame(f));
      process.send?.({ type: "connected" });
      blast();
    });
    socket.on("close", () => process.exit(0));
    socket.on("error", () => process.exit(0));
    const blast = () => {
      while (socket.write(chunk)) {}
      socket.once("drain", blast);
    };
    socket.write(wsFrame(hello));
  });
  req.on("error", (err) => {
    console.error(`bench replay: ${err.message}`);
    process.exit(2);
  });
  req.end();
}

interface Start {
  readonly type: "start";
  readonly url: string;
  readonly hello: Uint8Array;
  readonly preamble: Uint8Array[];
  readonly frames: Uint8Array[];
}

process.on("message", (m: Start) => {
  if (m.type === "start") start(m.url, m.hello, m.preamble, m.frames);
});
