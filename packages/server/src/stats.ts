/** The server's counters: live numbers a dashboard or /metrics endpoint reads. */
import { type ErrorCode, ErrorCodes } from "@froctal/protocol";

export interface ServerStats {
  /** Transport connections open now, with or without a session. */
  connections: number;
  /** Sessions (admitted connections) open now. */
  sessions: number;
  sessionsOpened: number;
  /** Frames that passed every check and were handled (hellos, batches, config acks, pongs). */
  framesAccepted: number;
  /** Events plus metric samples handed to the ingest. */
  signalsAccepted: number;
  acksSent: number;
  pingsSent: number;
  /** Times AgentSession.send said false because the connection was backed up. */
  sendsBackedUp: number;
  /**
   * Connections the edge refused or ended, by code: bad frames, failed hellos,
   * rate limits, timeouts, replaced sessions. Closes the core asks for and the
   * server's own shutdown are not counted.
   */
  rejected: Record<ErrorCode, number>;
}

export function createStats(): ServerStats {
  const rejected = {} as Record<ErrorCode, number>;
  for (const code of Object.keys(ErrorCodes) as ErrorCode[]) rejected[code] = 0;
  return {
    connections: 0,
    sessions: 0,
    sessionsOpened: 0,
    framesAccepted: 0,
    signalsAccepted: 0,
    acksSent: 0,
    pingsSent: 0,
    sendsBackedUp: 0,
    rejected,
  };
}
