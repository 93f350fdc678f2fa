/**
 * Byte-stream transport: a unix socket, or a character device such as a
 * virtio-serial port (/dev/virtio-ports/NAME, /dev/vportNpM) or a vchan
 * endpoint, opened read/write. Frames travel behind a varint length.
 *
 * A character device is read with fs streams, which read on libuv's thread
 * pool: a read blocked on a quiet port holds a pool thread (and keeps the
 * process alive) until a byte or a hang-up arrives, and Node offers no way to
 * cancel it. Whatever that read returns after close() is discarded.
 */
import { close as closeFd, constants, createReadStream, createWriteStream, open, stat } from "node:fs";
import { connect as netConnect } from "node:net";
import type { Readable, Writable } from "node:stream";
import { encodeDelimited, FrameReader, FroctalError } from "@froctal/protocol";
import type { Transport, TransportEvents, TransportOptions } from "../core/transport.js";

/** An opened byte stream, whatever it is made of. */
interface Pipe {
  readonly input: Readable;
  readonly output: Writable;
  /** Ends the output once written, then releases everything. */
  end(): void;
  /** Releases everything now. */
  destroy(): void;
}

type Opened = (error: Error | undefined, pipe?: Pipe) => void;

/** Opens `unix` (a socket path) or `path` (a socket or a character device). */
export function openStream(
  kind: "unix" | "path",
  path: string,
  events: TransportEvents,
  options: TransportOptions,
): Transport {
  let pipe: Pipe | undefined;
  let abortOpen: (() => void) | undefined;
  let done = false;
  const reader = new FrameReader(options.maxFrameBytes);

  const finish = (error?: FroctalError) => {
    if (done) return;
    done = true;
    pipe?.destroy();
    events.close(error);
  };
  const asError = (err: Error) =>
    err instanceof FroctalError
      ? err
      : new FroctalError("FROCTAL_E_TRANSPORT", `${path}: ${err.message}`, { cause: err });

  const opened: Opened = (err, p) => {
    abortOpen = undefined;
    if (done) return p?.destroy();
    if (err || !p) return finish(asError(err ?? new Error("could not open")));
    pipe = p;
    p.input.on("data", (chunk: Uint8Array) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch (cause) {
        return finish(asError(cause as Error));
      }
      for (const frame of frames) {
        if (done) return;
        events.frame(frame);
      }
    });
    p.input.on("end", () => finish(new FroctalError("FROCTAL_E_TRANSPORT", `${path}: the manager hung up`)));
    p.input.on("error", (e) => finish(asError(e)));
    p.output.on("error", (e) => finish(asError(e)));
    events.open();
  };

  if (kind === "unix") {
    abortOpen = openSocket(path, options.openTimeoutMs, opened);
  } else {
    let aborted = false;
    abortOpen = () => {
      aborted = true;
    };
    stat(path, (err, st) => {
      if (aborted) return;
      if (err) return opened(err);
      if (st.isSocket()) abortOpen = openSocket(path, options.openTimeoutMs, opened);
      else abortOpen = openDevice(path, opened);
    });
  }

  return {
    send(frame) {
      pipe?.output.write(encodeDelimited(frame));
    },
    get bufferedAmount() {
      return pipe?.output.writableLength ?? 0;
    },
    close() {
      if (done) return;
      done = true;
      abortOpen?.();
      pipe?.end();
    },
  };
}

/** Connects a unix socket; returns an abort for the attempt. */
function openSocket(path: string, timeoutMs: number, opened: Opened): () => void {
  const socket = netConnect({ path });
  const fail = (err: Error) => {
    socket.destroy();
    opened(err);
  };
  socket.setTimeout(timeoutMs, () => fail(new Error(`no connection within ${timeoutMs} ms`)));
  socket.once("error", fail);
  socket.once("connect", () => {
    socket.setTimeout(0);
    socket.off("error", fail);
    opened(undefined, {
      input: socket,
      output: socket,
      end: () => socket.destroySoon(),
      destroy: () => socket.destroy(),
    });
  });
  return () => socket.destroy();
}

/** Opens a character device read/write as two fs streams over one descriptor. */
function openDevice(path: string, opened: Opened): () => void {
  let aborted = false;
  open(path, constants.O_RDWR | constants.O_NOCTTY, (err, fd) => {
    if (err) return opened(err);
    let released = false;
    const input = createReadStream("", { fd, autoClose: false, highWaterMark: 64 << 10 });
    const output = createWriteStream("", { fd, autoClose: false });
    const release = () => {
      if (released) return;
      released = true;
      input.destroy();
      output.destroy();
      closeFd(fd, () => {});
    };
    const pipe: Pipe = {
      input,
      output,
      end: () => {
        input.destroy();
        output.end(release);
      },
      destroy: release,
    };
    if (aborted) return release();
    opened(undefined, pipe);
  });
  return () => {
    aborted = true;
  };
}
