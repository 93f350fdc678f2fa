/**
 * The byte-stream transport: varint length-delimited frames over any Duplex
 * (a unix socket, a per-domain virtio-serial socket, a vchan bridge). The
 * FrameReader rejects an over-limit length as soon as its header arrives, so
 * at most one frame's worth of bytes is ever buffered per connection.
 */
import { lstatSync, unlinkSync } from "node:fs";
import { connect, createServer } from "node:net";
import type { Duplex } from "node:stream";
import type { Channel } from "@froctal/manager";
import type { Disposer } from "@froctal/primitives";
import { Disposables, listen, noop } from "@froctal/primitives";
import { encodeDelimited, FrameReader, FroctalError, toFroctalError } from "@froctal/protocol";
import type { TransportHost } from "./connection.js";
import type { Endpoint, Transport } from "./transport.js";

/** Runs one byte stream through the session logic; the disposer shuts that connection down. */
export function serveStream(host: TransportHost, stream: Duplex, channel: Channel): Disposer {
  const reader = new FrameReader(host.maxFrameBytes);
  const transport: Transport = {
    channel,
    write(frame) {
      if (stream.writable) stream.write(encodeDelimited(frame));
    },
    buffered: () => stream.writableLength,
    end() {
      if (stream.writable) stream.end();
    },
    destroy: () => stream.destroy(),
  };
  const conn = host.connect(transport);
  if (!conn) return noop;
  const subscriptions = new Disposables();
  subscriptions.add(
    listen(stream, "data", (chunk: Buffer | string) => {
      if (!conn.reading) return;
      if (typeof chunk === "string") {
        return conn.refuse(new FroctalError("FROCTAL_E_FRAME_MALFORMED", "the stream delivers text, not bytes"));
      }
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch (cause) {
        return conn.refuse(toFroctalError(cause, "FROCTAL_E_FRAME_MALFORMED"));
      }
      for (const frame of frames) {
        if (!conn.reading) break;
        conn.receive(frame);
      }
    }),
  );
  // The peer will send nothing more: finish our side too, which ends in "close".
  subscriptions.add(listen(stream, "end", () => transport.end("refused", "")));
  // "close" follows an error; keep the error for the reason the ingest is given.
  let failure = "";
  subscriptions.add(
    listen(stream, "error", (error: Error) => {
      failure = ` (${error.message})`;
    }),
  );
  const closed = () => {
    subscriptions.dispose();
    conn.transportClosed(`the stream closed${failure}`);
  };
  if (stream.destroyed) closed();
  else subscriptions.add(listen(stream, "close", closed));
  return () => conn.shutdown();
}

/**
 * Listens on a unix socket. A socket file left by a manager that died is
 * removed first; one that still answers is in use, and anything that is not a
 * socket is never removed: both fail with EADDRINUSE.
 */
export async function listenUnix(
  host: TransportHost,
  path: string,
): Promise<Endpoint & { readonly finished: Promise<void> }> {
  let accepted = 0;
  const server = createServer({ allowHalfOpen: false }, (socket) => {
    serveStream(host, socket, { peer: `unix ${path} #${++accepted}` });
  });
  if (lstatSync(path, { throwIfNoEntry: false })?.isSocket() && !(await answers(path))) unlinkSync(path);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(path, () => {
      server.off("error", reject);
      resolve();
    });
  });
  server.on("error", () => {});
  const finished = new Promise<void>((resolve) => server.once("close", () => resolve()));
  let open = true;
  return {
    address: path,
    finished,
    close() {
      if (!open) return;
      open = false;
      // Stops listening and removes the socket file now; "close" follows once the accepted connections are gone.
      server.close();
    },
  };
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = connect(path);
    probe.once("connect", () => {
      probe.destroy();
      resolve(true);
    });
    probe.once("error", () => resolve(false));
  });
}
