/**
 * A host's guests that speak over a channel of their own (libvirt's
 * virtio-serial socket) reach the manager through the host: each channel is
 * relayed to the manager's /agent endpoint over a WebSocket the host vouches
 * for (its id, its credential, the instance; see driver-hosts' vouch.ts). The
 * channel carries length-delimited frames, the WebSocket one frame a message:
 * the relay converts, and ends either side when the other ends (the bridge
 * that called it reopens the channel with backoff). With standby managers it
 * dials the one the host's own link is on, so guests follow the host to the leader.
 */
import type { Socket } from "node:net";
import type { Disposer } from "@froctal/primitives";
import { DEFAULT_LIMITS, encodeDelimited, FrameReader, type Limits, VOUCH_HEADERS } from "@froctal/protocol";
import WebSocket, { type RawData } from "ws";

export interface ChannelRelayOptions {
  /** The manager's agent endpoint, ws://host:port/agent; a function is read at each channel (the leader changes). */
  readonly agentUrl: string | (() => string);
  readonly hostId: string;
  readonly credential: string;
  readonly limits?: Limits;
  readonly log?: (message: string) => void;
}

/** What @froctal/bridge's Bridge hands each channel to (its StreamEndpoint). */
export class ChannelRelay {
  readonly #o: ChannelRelayOptions;

  constructor(options: ChannelRelayOptions) {
    this.#o = options;
  }

  serveStream(stream: Socket, channel: { readonly instanceId?: string; readonly peer: string }): Disposer {
    const { instanceId } = channel;
    if (instanceId === undefined) {
      stream.destroy();
      return () => {};
    }
    const limits = this.#o.limits ?? DEFAULT_LIMITS;
    const { agentUrl } = this.#o;
    const ws = new WebSocket(typeof agentUrl === "string" ? agentUrl : agentUrl(), {
      headers: {
        [VOUCH_HEADERS.host]: this.#o.hostId,
        [VOUCH_HEADERS.credential]: this.#o.credential,
        [VOUCH_HEADERS.instance]: instanceId,
      },
      maxPayload: limits.maxFrameBytes,
      perMessageDeflate: false,
    });
    const reader = new FrameReader(limits.maxFrameBytes);
    const early: Uint8Array[] = [];
    const end = () => {
      stream.destroy();
      if (ws.readyState === WebSocket.CONNECTING || ws.readyState === WebSocket.OPEN) ws.terminate();
    };
    stream.on("data", (chunk: Buffer) => {
      let frames: Uint8Array[];
      try {
        frames = reader.push(chunk);
      } catch (error) {
        this.#o.log?.(`the channel of ${instanceId} sent what is not a frame: ${(error as Error).message}`);
        end();
        return;
      }
      for (const frame of frames) {
        if (ws.readyState === WebSocket.OPEN) ws.send(frame, { binary: true });
        else early.push(frame.slice());
      }
    });
    ws.on("open", () => {
      for (const frame of early.splice(0)) ws.send(frame, { binary: true });
    });
    ws.on("message", (data: RawData) => {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
      stream.write(encodeDelimited(bytes));
    });
    ws.on("unexpected-response", (req, res) => {
      this.#o.log?.(`the manager refused to relay ${instanceId}: HTTP ${res.statusCode}`);
      req.destroy();
      end();
    });
    ws.on("error", () => end());
    ws.on("close", () => end());
    stream.on("error", () => {});
    stream.on("close", () => end());
    return end;
  }
}
