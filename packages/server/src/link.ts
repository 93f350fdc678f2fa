/**
 * The seam between the transports and the rest: a Link is what the session
 * logic needs from a transport, and nothing more (the WebSocket glue and the
 * byte-stream glue each implement it, so connection.ts is written once for
 * both); a TransportHost is what a transport needs from the server.
 */
import type { Connection } from "./connection.js";
import type { Channel } from "./ingest.js";

/** Why a connection is being closed, for the transport's own close signal (a WebSocket close code). */
export type EndKind = "refused" | "retry-later" | "shutdown";

export interface Link {
  readonly channel: Channel;
  /** Writes one encoded frame; the transport adds its framing. Ignored once the transport is closing. */
  write(frame: Uint8Array): void;
  /** Bytes written but not yet handed to the operating system. */
  buffered(): number;
  /** Closes after what was written has gone out. `code` is the refusal's FROCTAL_E_* code, for close reasons. */
  end(kind: EndKind, code: string): void;
  /** Drops the connection now. */
  destroy(): void;
}

/** What the transports need from the server. */
export interface TransportHost {
  readonly maxFrameBytes: number;
  /** Registers a connection; undefined (and the link destroyed) once the server is closed. */
  connect(link: Link): Connection | undefined;
}

/** A listener the server opened; close() stops accepting, the connections it accepted carry on until server.close(). */
export interface Endpoint {
  /** Where agents connect: "ws://127.0.0.1:7070/agent", or the socket path. */
  readonly address: string;
  close(): void;
}
