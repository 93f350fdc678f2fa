import type { Target } from "../core/target.js";
import type { Transport, TransportEvents, TransportFactory, TransportOptions } from "../core/transport.js";
import { openStream } from "./stream.js";
import { openWebSocket } from "./websocket.js";

/** The built-in transports: WebSocket for ws(s)://, a byte stream for the rest. */
export const openTransport: TransportFactory = (
  target: Target,
  events: TransportEvents,
  options: TransportOptions,
): Transport =>
  target.kind === "websocket"
    ? openWebSocket(target.url, events, options)
    : openStream(target.kind, target.path, events, options);
