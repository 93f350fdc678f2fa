/**
 * What the agent did since it was created. Events are counted once each in
 * exactly one of acked, dropped or rejected when their fate is known; `buffered`
 * are the ones still waiting for an ack.
 */
export interface AgentStats {
  /** Events accepted into the outbox (each got a sequence number). */
  readonly queued: number;
  /** Events written to a connection for the first time. */
  readonly sent: number;
  /** Events written again after a reconnect (the manager had not acked them). */
  readonly resent: number;
  /** Events the manager acknowledged (cumulative Ack, or ManagerHello.acked_seq). */
  readonly acked: number;
  /** Events given up on: evicted by the 'drop-oldest' policy, or too large for the manager's frame limit. */
  readonly dropped: number;
  /** Signals refused at the call (outbox full under the 'reject' policy); the call threw FROCTAL_E_BUFFER_FULL. */
  readonly rejected: number;
  /** Events held now, waiting to be sent or acked. */
  readonly buffered: number;
  /** Encoded bytes of the events held now. */
  readonly bufferedBytes: number;
  /** Metric samples written. */
  readonly samples: number;
  /** Metric samples overwritten by a newer value of the same metric before they were written (latest wins). */
  readonly coalesced: number;
  /** Flushes held back because the connection had too many bytes queued. */
  readonly backpressured: number;
  /** Frames and bytes written (hello, batches, acks, pongs). */
  readonly frames: number;
  readonly bytes: number;
  /** Sessions opened (accepted hellos); every one after the first is also a reconnect. */
  readonly connects: number;
  readonly reconnects: number;
  /** Times a manager that had forgotten this guest's state (a restart) was told it again. */
  readonly reannounced: number;
  /** Errors reported to 'error' listeners. */
  readonly errors: number;
}

export type Counters = { -readonly [K in keyof AgentStats]: AgentStats[K] };

export function createCounters(): Counters {
  return {
    queued: 0,
    sent: 0,
    resent: 0,
    acked: 0,
    dropped: 0,
    rejected: 0,
    buffered: 0,
    bufferedBytes: 0,
    samples: 0,
    coalesced: 0,
    backpressured: 0,
    frames: 0,
    bytes: 0,
    connects: 0,
    reconnects: 0,
    reannounced: 0,
    errors: 0,
  };
}
