/**
 * The Ingest port: how agents' checked frames reach the core. The server
 * (@froctal/server: sockets, framing, limits, rate) implements the session and
 * channel side and calls an Ingest; the core's IngestAdapter (ingest/adapter.ts)
 * is the Ingest. The server checks every frame before calling these; the core
 * decides who may connect, what a signal means, and when events are safe to
 * acknowledge.
 */
import type { Batch, ConfigAck, ErrorCode, Hello, ManagerFrame } from "@froctal/protocol";

/** One accepted agent connection, as the core sees it. */
export interface AgentSession {
  readonly instanceId: string;
  /** Unique per connection, for logs on both sides. */
  readonly sessionId: string;
  /** The agent's event stream (AgentHello.stream_id). */
  readonly streamId: string;
  /**
   * Sends a frame; false when the connection is closed or too backed up to take it.
   * Throws FROCTAL_E_FRAME_TOO_LARGE for a frame over limits.maxFrameBytes: the agent would refuse it.
   */
  send(frame: ManagerFrame): boolean;
  /**
   * Acknowledges the session's stream up to `seq`: the ingest calls it once the
   * events are applied (never when they are only queued), so an acknowledged
   * event is never lost. Cumulative: only an advance is sent. The core may call
   * it from inside its tick, so it only notes the seq; the Ack goes out later,
   * at most one per turn of the event loop.
   */
  ack(seq: number): void;
  /** Sends Refuse{code, reason} and closes the connection. */
  close(code: ErrorCode, reason: string): void;
}

export type Admission =
  | {
      readonly ok: true;
      /** Highest event seq of hello.streamId already applied (0: none); the agent re-sends what is above it. */
      readonly ackedSeq: number;
    }
  | { readonly ok: false; readonly code: ErrorCode; readonly reason: string };

/** How the connection proves who is on the other end. */
export interface Channel {
  /**
   * Set when the channel itself is the instance's own (one virtio-serial socket
   * per domain): the hello's instance id must equal it and no token is needed.
   */
  readonly instanceId?: string;
  /** For logs: "ws 127.0.0.1:53412", "unix /run/froctal.sock", "vport dom-3". */
  readonly peer: string;
}

export interface Ingest {
  /** Decides whether this hello may open a session; checks identity (token or channel). */
  admit(hello: Hello, channel: Channel): Admission;
  /** A session was opened for an admitted hello. A previous session of the same instance has been closed first. */
  opened(session: AgentSession, hello: Hello): void;
  /**
   * A checked batch arrived. Its events are acknowledged later, through
   * session.ack, once they are applied; events at or below a seq already taken
   * that arrive again (a re-send after a reconnect) are duplicates, ignored.
   */
  batch(session: AgentSession, batch: Batch): void;
  configAck(session: AgentSession, ack: ConfigAck): void;
  /** The session ended (the agent left, a limit was hit, or it was replaced). */
  closed(session: AgentSession, reason: string): void;
}
