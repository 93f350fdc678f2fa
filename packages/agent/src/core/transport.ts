/**
 * The port between the agent and a connection. A transport moves whole frames
 * (encoded AgentFrame / ManagerFrame bytes); framing on the wire is its own
 * business: one WebSocket binary message per frame, or a varint length before
 * each frame on a byte stream. Everything else (hello, batching, acks,
 * reconnects) is shared and lives above this line.
 */
import type { FroctalError } from "@froctal/protocol";
import type { Target } from "./target.js";

export interface TransportEvents {
  /** The connection is up; frames may be sent. */
  open(): void;
  /** One whole frame arrived. */
  frame(bytes: Uint8Array): void;
  /**
   * The connection ended or could not be made: called at most once, and never
   * after Transport.close(). `error` says why, when it was not an orderly close.
   */
  close(error?: FroctalError): void;
}

export interface Transport {
  /** Queues one frame; only called between open() and close. */
  send(frame: Uint8Array): void;
  /** Bytes queued but not yet handed to the operating system: the backpressure signal. */
  readonly bufferedAmount: number;
  /** Ends the connection after what is queued is written; fires no more events. */
  close(): void;
}

export interface TransportOptions {
  /** Largest frame to accept from the manager; a larger one ends the connection. */
  readonly maxFrameBytes: number;
  /** How long opening may take, ms. */
  readonly openTimeoutMs: number;
}

/** Starts opening a connection to `target`; returns at once, events follow. */
export type TransportFactory = (target: Target, events: TransportEvents, options: TransportOptions) => Transport;
