/**
 * The port between the manager's edge (this package: sockets, framing, limits)
 * and its core (the store). The edge checks every frame before calling these;
 * the core decides who may connect and what a signal means.
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
   * Acknowledges the stream up to `seq` later than batch() returned, e.g. after
   * the tick that applied the events or once they are persisted. Cumulative and
   * coalesced like batch()'s result: only an advance is sent, at most one Ack per flush.
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
   * A checked batch arrived. Returns the cumulative seq to acknowledge: the
   * highest seq of the session's stream the core has taken (events at or below
   * it that arrive again are duplicates and must be ignored by the core).
   */
  batch(session: AgentSession, batch: Batch): number;
  configAck(session: AgentSession, ack: ConfigAck): void;
  /** The session ended (the agent left, a limit was hit, or it was replaced). */
  closed(session: AgentSession, reason: string): void;
}
