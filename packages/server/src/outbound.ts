/**
 * What the manager writes to one agent on an open session: the core's frames,
 * the cumulative Ack and the heartbeat's pings. Each is held back while the
 * transport is backed up rather than queued behind it: a pushed frame says
 * false so the core can retry, and an Ack or ping waits for a later turn.
 * Whether the session is still open is the connection's to say (`isOpen`).
 */
import { encodeManagerFrame, FroctalError, type ManagerFrame } from "@froctal/protocol";
import type { ResolvedOptions } from "./options.js";
import type { ServerStats } from "./stats.js";
import type { Transport } from "./transport.js";

export class Outbound {
  /** Cumulative ack: the highest seq the ingest has applied (session.ack), and the highest the agent has been told. */
  private ackWanted = 0;
  private ackSent = 0;
  private ackQueued = false;
  private pings = 0;
  private pingSentAt = 0;

  constructor(
    private readonly transport: Transport,
    private readonly options: ResolvedOptions,
    private readonly stats: ServerStats,
    private readonly isOpen: () => boolean,
  ) {}

  /** The session opened with the agent already told everything up to `ackedSeq` (its hello's answer). */
  start(ackedSeq: number): void {
    this.ackWanted = this.ackSent = ackedSeq;
  }

  /** AgentSession.send: false when closed or backed up; a frame the agent would refuse as too large throws. */
  send(frame: ManagerFrame): boolean {
    if (!this.isOpen()) return false;
    const { maxBufferedBytes, limits } = this.options;
    if (this.transport.buffered() > maxBufferedBytes) {
      this.stats.sendsBackedUp++;
      return false;
    }
    const bytes = encodeManagerFrame(frame);
    if (bytes.length > limits.maxFrameBytes) {
      throw new FroctalError(
        "FROCTAL_E_FRAME_TOO_LARGE",
        `a ${frame.frame ?? "ManagerFrame"} frame of ${bytes.length} bytes is over the limit of ${limits.maxFrameBytes} bytes`,
      );
    }
    this.transport.write(bytes);
    return true;
  }

  /** AgentSession.ack: notes `seq`; the Ack goes out at the end of this turn of the event loop. */
  ack(seq: number): void {
    if (!this.isOpen()) return;
    checkSeq(seq, "the acknowledged seq");
    if (seq <= this.ackWanted) return;
    this.ackWanted = seq;
    if (this.ackQueued) return;
    // Coalesces: every batch handled in this turn of the event loop (one socket read) shares one Ack.
    this.ackQueued = true;
    queueMicrotask(() => {
      this.ackQueued = false;
      this.flushAck();
    });
  }

  flushAck(): void {
    if (!this.isOpen() || this.ackWanted <= this.ackSent) return;
    // A backed-up agent gets its Ack at a later flush or heartbeat; until then it keeps the events, which is safe.
    if (this.transport.buffered() > this.options.maxBufferedBytes) return;
    this.transport.write(encodeManagerFrame({ ack: { seq: this.ackWanted } }));
    this.ackSent = this.ackWanted;
    this.stats.acksSent++;
  }

  ping(now: number): void {
    if (this.transport.buffered() > this.options.maxBufferedBytes) return;
    this.pings++;
    this.pingSentAt = now;
    this.transport.write(encodeManagerFrame({ ping: { nonce: this.pings } }));
    this.stats.pingsSent++;
  }

  /** The round trip in ms when `nonce` answers the latest ping; undefined for any other pong. */
  pong(nonce: number, now: number): number | undefined {
    return nonce === this.pings && this.pings > 0 ? now - this.pingSentAt : undefined;
  }
}

/** A seq the ingest hands back must be one the wire can carry; anything else is the manager's bug. */
export function checkSeq(seq: number, what: string): void {
  if (!Number.isSafeInteger(seq) || seq < 0) {
    throw new FroctalError("FROCTAL_E_INTERNAL", `${what} must be a whole number from 0 to 2^53, not ${seq}`);
  }
}
