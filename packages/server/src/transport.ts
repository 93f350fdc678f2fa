/**
 * The seam between the transports and the session logic: a Transport is what
 * connection.ts needs from one accepted connection, and nothing more (the
 * WebSocket glue and the byte-stream glue each make one, so connection.ts is
 * written once for both). What a transport needs from the server
 * (TransportHost) sits beside the Connection it hands out, in connection.ts,
 * so this file imports nothing of the session logic.
 */
import type { Channel } from "@froctal/manager";

/** Why a connection is being closed, for the transport's own close signal (a WebSocket close code). */
export type EndKind = "refused" | "retry-later" | "shutdown";

/** One accepted connection, as the session logic drives it: whole frames out, and its end. */
export interface Transport {
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

/** A listener the server opened; close() stops accepting, the connections it accepted carry on until server.close(). */
export interface Endpoint {
  /** Where agents connect: "ws://127.0.0.1:7070/agent", or the socket path. */
  readonly address: string;
  close(): void;
}
