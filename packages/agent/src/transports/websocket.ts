/**
 * WebSocket transport (the ws package): one binary message carries one frame.
 * A text message, or one over the frame limit, ends the connection.
 */
import { FroctalError } from "@froctal/protocol";
import WebSocket from "ws";
import type { Transport, TransportEvents, TransportOptions } from "../core/transport.js";

// After close() the manager gets this long to answer the closing handshake.
const CLOSE_GRACE_MS = 1000;

export function openWebSocket(url: string, events: TransportEvents, options: TransportOptions): Transport {
  const ws = new WebSocket(url, {
    maxPayload: options.maxFrameBytes,
    perMessageDeflate: false,
    handshakeTimeout: options.openTimeoutMs,
    // RFC 6455 masking protects caching proxies from attacker-chosen bytes; an agent speaks straight to
    // its own manager, with no proxy between, so a zero key lets ws skip XOR-ing (and copying) each frame.
    generateMask: zeroMask,
  });
  let done = false;
  let failure: FroctalError | undefined;
  let grace: NodeJS.Timeout | undefined;

  const finish = (error?: FroctalError) => {
    if (done) return;
    done = true;
    events.close(error);
  };
  const fail = (error: FroctalError) => {
    failure ??= error;
    ws.terminate();
  };

  ws.on("open", () => {
    if (!done) events.open();
  });
  ws.on("message", (data, isBinary) => {
    if (done) return;
    if (!isBinary) {
      fail(new FroctalError("FROCTAL_E_FRAME_MALFORMED", "the manager sent a text message; frames are binary"));
      return;
    }
    events.frame(toBytes(data));
  });
  ws.on("error", (err: Error & { code?: string }) => {
    failure ??=
      err.code === "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"
        ? new FroctalError(
            "FROCTAL_E_FRAME_TOO_LARGE",
            `the manager sent a message over ${options.maxFrameBytes} bytes`,
          )
        : new FroctalError("FROCTAL_E_TRANSPORT", `${url}: ${err.message}`, { cause: err });
  });
  ws.on("close", (code, reason) => {
    if (grace) clearTimeout(grace);
    finish(failure ?? closeError(url, code, reason.toString()));
  });

  return {
    send(frame) {
      ws.send(frame, { binary: true });
    },
    get bufferedAmount() {
      return ws.bufferedAmount;
    },
    close() {
      done = true;
      if (ws.readyState === WebSocket.OPEN) {
        ws.close(1000);
        grace = setTimeout(() => ws.terminate(), CLOSE_GRACE_MS);
        grace.unref();
      } else {
        ws.terminate();
      }
    },
  };
}

function closeError(url: string, code: number, reason: string): FroctalError | undefined {
  if (code === 1000) return undefined;
  // The manager closes with 1009 when a message is over its limit: no Refuse frame can say so.
  if (code === 1009) return new FroctalError("FROCTAL_E_FRAME_TOO_LARGE", `${url} closed: a frame was over its limit`);
  return new FroctalError("FROCTAL_E_TRANSPORT", `${url} closed (${code}${reason ? ` ${reason}` : ""})`);
}

function toBytes(data: WebSocket.RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}

function zeroMask(mask: Uint8Array): void {
  mask.fill(0);
}
