/**
 * The session logic, written once for every transport (websocket.ts and
 * stream.ts only move bytes). A connection waits for a hello, has the ingest
 * admit it, then carries batches, config acks and pongs until it ends:
 *
 *   hello --admitted--> open --refused / peer left / replaced--> closing --transport closed--> closed
 *   hello --refused / peer left--------------------------------> closing
 *
 * Every frame is rate-limited, size-checked, decoded and validated before the
 * ingest sees anything of it. The first bad frame ends the connection with a
 * Refuse: the frames after it cannot be trusted (on a byte stream the framing
 * is out of step; on any transport, a peer that built one broken frame has a
 * bug that may have built the next), so they are read no further. "closing"
 * means the ingest has been told and no frame is read any more; the transport
 * is finishing its own close, which closeGraceMs bounds. What goes the other
 * way, to the agent (the core's frames, Acks, pings), is outbound.ts's.
 */

import type { AgentSession } from "@froctal/manager";
import type { Disposer } from "@froctal/primitives";
import { Disposables, noop } from "@froctal/primitives";
import {
  type Batch,
  type CheckedAgentFrame,
  decodeAgentFrame,
  encodeManagerFrame,
  FroctalError,
  type Hello,
  negotiateVersion,
  toFroctalError,
} from "@froctal/protocol";
import { Heartbeat } from "./heartbeat.js";
import type { ResolvedOptions } from "./options.js";
import { checkSeq, Outbound } from "./outbound.js";
import { TokenBucket } from "./rate.js";
import type { ServerStats } from "./stats.js";
import type { EndKind, Transport } from "./transport.js";

/** What a shutting-down manager asks agents to wait before reconnecting. */
const SHUTDOWN_RETRY_MS = 1_000;

/** What a connection needs from the server that owns it. */
export interface ConnectionHost {
  readonly options: ResolvedOptions;
  readonly stats: ServerStats;
  newSessionId(): string;
  /** Makes `conn` the instance's session; a previous one is closed with FROCTAL_E_SESSION_REPLACED first. */
  claim(instanceId: string, conn: Connection): void;
  release(instanceId: string, conn: Connection): void;
  /** The transport has closed: nothing of the connection is left to release. */
  forget(conn: Connection): void;
}

/** What the transports need from the server: a Connection for each transport they accept. */
export interface TransportHost {
  readonly maxFrameBytes: number;
  /** Registers a connection; undefined (and the transport destroyed) once the server is closed. */
  connect(transport: Transport): Connection | undefined;
}

type State = "hello" | "open" | "closing" | "closed";

export class Connection {
  /** Resolves once the transport has closed. */
  readonly closed: Promise<void>;
  private resolveClosed: () => void = noop;
  private state: State = "hello";
  private session: AgentSession | undefined;
  /** Timers that live while frames are read (hello timeout, heartbeat); released when closing starts. */
  private readonly timers = new Disposables();
  private readonly helloTimer: Disposer;
  private readonly heartbeat: Heartbeat;
  /** Drops a transport that does not finish closing in time; released when it does. */
  private kill: Disposer = noop;
  private readonly frameBucket: TokenBucket;
  private readonly signalBucket: TokenBucket;
  /** Frames to the agent (the core's, Acks, pings), written only while the session is open. */
  private readonly outbound: Outbound;

  constructor(
    private readonly host: ConnectionHost,
    private readonly transport: Transport,
  ) {
    this.closed = new Promise((resolve) => {
      this.resolveClosed = resolve;
    });
    const { clock, rate, helloTimeoutMs, heartbeatMs } = host.options;
    const now = clock.now();
    this.outbound = new Outbound(transport, host.options, host.stats, () => this.state === "open");
    this.heartbeat = new Heartbeat(clock, heartbeatMs, {
      beat: () => this.outbound.flushAck(),
      ping: (at) => this.outbound.ping(at),
      timeout: (silentMs) =>
        this.refuse(
          new FroctalError(
            "FROCTAL_E_TIMEOUT",
            `nothing arrived from the agent for ${Math.round(silentMs)} ms (heartbeat ${heartbeatMs} ms)`,
          ),
        ),
    });
    this.timers.add(() => this.heartbeat.stop());
    this.frameBucket = new TokenBucket(rate.framesPerSec, rate.framesPerSec * rate.burstSeconds, now);
    this.signalBucket = new TokenBucket(rate.signalsPerSec, rate.signalsPerSec * rate.burstSeconds, now);
    this.helloTimer = this.timers.add(
      clock.setTimeout(
        () => this.refuse(new FroctalError("FROCTAL_E_HELLO_TIMEOUT", `no hello arrived within ${helloTimeoutMs} ms`)),
        helloTimeoutMs,
      ),
    );
  }

  /** The session the ingest was given, while it is open. */
  get agentSession(): AgentSession | undefined {
    return this.state === "open" ? this.session : undefined;
  }

  /** Whether frames are still read: false from the first refusal or the peer's leaving on. */
  get reading(): boolean {
    return this.state === "hello" || this.state === "open";
  }

  /** One frame's bytes, exactly as the transport delimited them. */
  receive(bytes: Uint8Array): void {
    if (!this.reading) return;
    const now = this.host.options.clock.now();
    this.heartbeat.heard(now);
    // Counted before decoding, so a flood costs no decoding.
    const wait = this.frameBucket.take(1, now);
    if (wait > 0) {
      const { framesPerSec } = this.host.options.rate;
      this.refuse(
        new FroctalError("FROCTAL_E_RATE_LIMITED", `more than ${framesPerSec} frames a second arrived`),
        wait,
      );
      return;
    }
    let frame: CheckedAgentFrame;
    try {
      frame = decodeAgentFrame(bytes, this.host.options.limits);
    } catch (cause) {
      this.refuse(toFroctalError(cause, "FROCTAL_E_FRAME_MALFORMED"));
      return;
    }
    this.dispatch(frame, now);
  }

  /**
   * Ends the connection with a Refuse carrying `error`'s code and sentence.
   * Transports call it too, for input they reject themselves (a text message,
   * a frame header over the limit). `counted` is false for closes the core asks for.
   */
  refuse(error: FroctalError, retryAfterMs = 0, counted = true): void {
    if (!this.reading) return;
    if (counted) this.host.stats.rejected[error.code]++;
    this.host.options.log.info({ ...this.describe(), code: error.code }, error.sentence);
    this.transport.write(
      encodeManagerFrame({
        refuse: { code: error.code, reason: error.sentence, retryable: error.retryable, retryAfterMs },
      }),
    );
    this.stopReading(error.message);
    this.end(error.retryable ? "retry-later" : "refused", error.code);
  }

  /** The server is shutting down: tell the agent to come back later and close. */
  shutdown(): void {
    if (!this.reading) return;
    const reason = "the manager is shutting down";
    this.transport.write(
      encodeManagerFrame({
        refuse: { code: "FROCTAL_E_CLOSED", reason, retryable: true, retryAfterMs: SHUTDOWN_RETRY_MS },
      }),
    );
    this.stopReading(`FROCTAL_E_CLOSED: ${reason}`);
    this.end("shutdown", "FROCTAL_E_CLOSED");
  }

  /** The transport has closed (the peer left, the network failed, or our own close finished). */
  transportClosed(why: string): void {
    if (this.state === "closed") return;
    if (this.reading) this.stopReading(why);
    this.state = "closed";
    this.kill();
    this.host.forget(this);
    this.resolveClosed();
  }

  private dispatch(frame: CheckedAgentFrame, now: number): void {
    const session = this.session;
    // On a per-instance channel (a virtio-serial port) the stream outlives both ends: a guest that
    // rebooted says hello again mid-stream, and after a manager restart the guest goes on sending
    // batches on a stream it never saw close. Either way the two ends are out of step, and the cure
    // is a fresh start: refuse as retryable, so the agent reconnects and says hello on a new stream.
    const resync = this.transport.channel.instanceId !== undefined;
    if (frame.frame === "hello") {
      if (session) {
        this.refuse(new FroctalError("FROCTAL_E_FRAME_UNEXPECTED", "a second hello arrived", { retryable: resync }));
        return;
      }
      this.hello(frame.hello);
      return;
    }
    if (!session) {
      this.refuse(
        new FroctalError("FROCTAL_E_FRAME_UNEXPECTED", `the first frame must be a hello, not a ${frame.frame}`, {
          retryable: resync,
        }),
      );
      return;
    }
    const { ingest } = this.host.options;
    switch (frame.frame) {
      case "batch":
        this.batch(session, frame.batch, now);
        return;
      case "configAck": {
        this.host.stats.framesAccepted++;
        const ack = frame.configAck;
        this.callIngest("a config ack", () => ingest.configAck(session, ack));
        return;
      }
      case "pong": {
        this.host.stats.framesAccepted++;
        const rttMs = this.outbound.pong(frame.pong.nonce, now);
        if (rttMs !== undefined) this.host.options.log.debug({ ...this.describe(), rttMs }, "pong");
        return;
      }
      default:
        unreachable(frame);
    }
  }

  private hello(hello: Hello): void {
    this.helloTimer();
    const { ingest, limits, heartbeatMs } = this.host.options;
    let version: number;
    try {
      version = negotiateVersion(hello);
    } catch (cause) {
      this.refuse(toFroctalError(cause, "FROCTAL_E_VERSION"));
      return;
    }
    const { channel } = this.transport;
    // A per-instance channel proves identity; a hello that names another instance on it is lying.
    if (channel.instanceId !== undefined && channel.instanceId !== hello.instanceId) {
      this.refuse(
        new FroctalError(
          "FROCTAL_E_AUTH",
          `this channel belongs to instance ${channel.instanceId}, not to ${hello.instanceId}`,
        ),
      );
      return;
    }
    const admission = this.callIngest("a hello", () => {
      const a = ingest.admit(hello, channel);
      if (a.ok) checkSeq(a.ackedSeq, "Ingest.admit");
      return a;
    });
    if (admission === undefined) return;
    if (!admission.ok) {
      this.refuse(new FroctalError(admission.code, admission.reason));
      return;
    }

    const session = this.makeSession(hello);
    this.host.claim(hello.instanceId, this);
    this.session = session;
    this.state = "open";
    this.outbound.start(admission.ackedSeq);
    this.host.stats.sessionsOpened++;
    this.host.stats.framesAccepted++;
    this.transport.write(
      encodeManagerFrame({
        hello: {
          version,
          sessionId: session.sessionId,
          ackedSeq: admission.ackedSeq,
          maxFrameBytes: limits.maxFrameBytes,
          maxBatchEvents: limits.maxBatchEvents,
          heartbeatMs,
        },
      }),
    );
    this.heartbeat.start();
    this.host.options.log.info({ ...this.describe(), streamId: hello.streamId, version }, "session opened");
    this.callIngest("the new session", () => this.host.options.ingest.opened(session, hello));
  }

  private batch(session: AgentSession, batch: Batch, now: number): void {
    const signals = batch.events.length + batch.metricIds.length;
    const wait = signals > 0 ? this.signalBucket.take(signals, now) : 0;
    if (wait > 0) {
      const { signalsPerSec } = this.host.options.rate;
      this.refuse(
        new FroctalError("FROCTAL_E_RATE_LIMITED", `more than ${signalsPerSec} signals a second arrived`),
        wait,
      );
      return;
    }
    this.host.stats.framesAccepted++;
    this.host.stats.signalsAccepted += signals;
    const { ingest } = this.host.options;
    // No Ack here: the ingest acknowledges through session.ack once it has applied the events.
    this.callIngest("a batch", () => ingest.batch(session, batch));
  }

  private makeSession(hello: Hello): AgentSession {
    return {
      instanceId: hello.instanceId,
      sessionId: this.host.newSessionId(),
      streamId: hello.streamId,
      send: (frame) => this.outbound.send(frame),
      ack: (seq) => this.outbound.ack(seq),
      close: (code, reason) => this.refuse(new FroctalError(code, reason), 0, false),
    };
  }

  /** Stops reading frames and tells the ingest the session is over. */
  private stopReading(reason: string): void {
    const session = this.session;
    this.state = "closing";
    this.timers.dispose();
    if (!session) return;
    this.host.release(session.instanceId, this);
    this.host.options.log.info({ ...this.describe() }, `session closed: ${reason}`);
    this.callIngest("the end of a session", () => this.host.options.ingest.closed(session, reason));
  }

  private end(kind: EndKind, code: string): void {
    const { clock, closeGraceMs } = this.host.options;
    this.kill = clock.setTimeout(() => this.transport.destroy(), closeGraceMs);
    this.transport.end(kind, code);
  }

  /**
   * Calls into the core. A throw there is the manager's bug, not the agent's:
   * it is logged and ends this connection with FROCTAL_E_INTERNAL, and the
   * other connections carry on.
   */
  private callIngest<T>(what: string, call: () => T): T | undefined {
    try {
      return call();
    } catch (cause) {
      const error = new FroctalError(
        "FROCTAL_E_INTERNAL",
        `the manager failed to handle ${what}: ${cause instanceof Error ? cause.message : String(cause)}`,
        { cause },
      );
      this.host.options.log.error({ ...this.describe(), err: cause }, error.sentence);
      this.refuse(error);
      return undefined;
    }
  }

  private describe(): Record<string, string> {
    const s = this.session;
    return s
      ? { peer: this.transport.channel.peer, instanceId: s.instanceId, sessionId: s.sessionId }
      : { peer: this.transport.channel.peer };
  }
}

function unreachable(value: never): never {
  throw new FroctalError("FROCTAL_E_INTERNAL", `unhandled frame ${JSON.stringify(value)}`);
}
