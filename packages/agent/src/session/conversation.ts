/**
 * The agent's conversation with its manager, one session after another
 * across reconnects (a session is what one accepted hello opens): the link
 * (hello, refusals, reconnects) carries frames, the sender cuts batches from
 * the outbox and the metric table, and every frame the manager sends is
 * dispatched here, once, to the part that answers it:
 *
 *   ack                -> the sender releases what the manager applied
 *   prepare / commit / abort -> hooks.config (the configuration machine)
 *   drain / shutdown   -> hooks.drain / hooks.shutdown (the lifecycle commands)
 *   ping               -> answered here with a pong
 *
 * It knows nothing of guest code: the facade (agent.ts) turns calls into
 * events and hears of sessions through the hooks.
 */
import {
  type CheckedManagerFrame,
  type ConfigAck,
  type FroctalError,
  type Limits,
  type ManagerHello,
  type MetricKind,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
} from "@froctal/protocol";
import { type ConfigCommand, configCommandOf } from "../core/config.js";
import type { DrainCommand, ShutdownCommand } from "../core/lifecycle-commands.js";
import type { Metric } from "../core/metrics.js";
import type { WireEvent } from "../core/signals.js";
import type { Counters } from "../core/stats.js";
import type { TransportFactory } from "../core/transport.js";
import { Link, type LinkOptions, type LinkState } from "./link.js";
import { Sender, type SenderOptions } from "./sender.js";
import { AGENT_VERSION } from "./version.js";

export interface ConversationOptions extends LinkOptions, SenderOptions {
  readonly instanceId: string;
  readonly token: string;
  /** What the guest was built with (BuildInfo less agent_version, which the agent adds). */
  readonly build: {
    readonly app: string;
    readonly appVersion: string;
    readonly features: string[];
    readonly platform: string;
  };
}

export interface ConversationParts {
  /** Opens each connection. */
  readonly transport: TransportFactory;
  /** This agent's event stream, presented in every hello. */
  readonly streamId: string;
  readonly counters: Counters;
}

export interface ConversationHooks {
  /** The generation the guest runs now, for the next hello. */
  runningGeneration(): number;
  /** A configuration command, in arrival order. */
  config(command: ConfigCommand): void;
  drain(command: DrainCommand): void;
  shutdown(command: ShutdownCommand): void;
  /** A session opened; `forgotten` when the manager answers with less than it acknowledged before (it restarted without it). */
  opened(hello: ManagerHello, forgotten: boolean): void;
  /** An open session ended; the link reconnects unless it failed or was closed. */
  ended(error: FroctalError | undefined): void;
  /** The link gave up for good: no session will come again. */
  failed(error: FroctalError): void;
  /** Something went wrong away from any call. */
  report(error: FroctalError): void;
}

export class Conversation {
  private readonly sender: Sender;
  private readonly link: Link;
  /** The highest event seq any manager acknowledged on this stream. */
  private highestAcked = 0;

  constructor(
    o: ConversationOptions,
    parts: ConversationParts,
    private readonly hooks: ConversationHooks,
  ) {
    const { counters } = parts;
    // The sender reaches the link only once a session is open, so the link may be made after it.
    const wire = {
      get bufferedAmount() {
        return link.bufferedAmount;
      },
      sendBytes: (bytes: Uint8Array) => link.sendBytes(bytes),
    };
    this.sender = new Sender(o, wire, counters, (e) => hooks.report(e));
    const link = new Link(o, parts.transport, {
      hello: () => ({
        minVersion: MIN_PROTOCOL_VERSION,
        maxVersion: PROTOCOL_VERSION,
        instanceId: o.instanceId,
        token: o.token,
        build: { ...o.build, agentVersion: AGENT_VERSION },
        streamId: parts.streamId,
        runningGeneration: hooks.runningGeneration(),
      }),
      opened: (h) => {
        if (counters.connects++ > 0) counters.reconnects++;
        const forgotten = h.ackedSeq < this.highestAcked;
        // Copied field by field: a decoded message keeps unset fields' defaults on its prototype.
        const hello: ManagerHello = {
          version: h.version,
          sessionId: h.sessionId,
          ackedSeq: h.ackedSeq,
          maxFrameBytes: h.maxFrameBytes,
          maxBatchEvents: h.maxBatchEvents,
          heartbeatMs: h.heartbeatMs,
        };
        // What the agent re-announces to a manager that forgot it is queued before the first write, so that it
        // travels in the session's first batch: a restarted manager that waits for one batch from each adopted
        // guest before it rolls out (the manager's resync) then has the guest's facts, not only its gauges.
        hooks.opened(hello, forgotten);
        this.sender.open(hello);
      },
      frame: (frame) => this.dispatch(frame),
      ended: (error, wasOpen) => {
        this.sender.pause();
        if (wasOpen) hooks.ended(error);
      },
      error: (error) => hooks.report(error),
      failed: (error) => {
        hooks.failed(error);
        this.sender.abandon();
      },
      wrote: (bytes) => {
        counters.frames++;
        counters.bytes += bytes;
        this.sender.wrote();
      },
    });
    this.link = link;
  }

  /** Starts connecting (in the background). */
  start(): void {
    this.link.start();
  }

  get state(): LinkState {
    return this.link.state;
  }

  /** The limits a new event is checked against: the session's frame size once the manager has said it. */
  get eventLimits(): Limits {
    return this.sender.eventLimits;
  }

  /** Queues an event (checked against the contract and the limits); returns its sequence number or throws. */
  enqueue(event: WireEvent, what: string): number {
    return this.sender.enqueue(event, what);
  }

  /** Finds or registers a metric; throws if the name, kind or unit is wrong. */
  metric(name: string, kind: MetricKind, unit?: string): Metric {
    return this.sender.metrics.metric(name, kind, unit);
  }

  /** Sets a metric's latest value, to be written soon (latest wins until then). */
  set(metric: Metric, value: number): void {
    this.sender.metrics.set(metric, value);
    this.sender.soon();
  }

  /** Answers a configuration command on the open session; with none, the manager pushes again. */
  answer(ack: ConfigAck): void {
    this.link.send({ configAck: ack });
  }

  /** Writes what is pending now, as far as the connection and its backpressure allow. */
  flush(): void {
    this.sender.flush();
  }

  /**
   * Flushes and waits up to `timeoutMs` for every event to be acked (not when
   * the link already failed), then ends the link; returns the events never acked.
   */
  async close(timeoutMs: number): Promise<number> {
    if (this.link.state !== "failed") {
      this.sender.flush();
      await this.sender.whenSettled(timeoutMs);
    }
    this.link.close();
    this.sender.abandon();
    return this.sender.outbox.length;
  }

  private dispatch(frame: CheckedManagerFrame): void {
    switch (frame.frame) {
      case "ack":
        this.highestAcked = Math.max(this.highestAcked, frame.ack.seq);
        this.sender.ack(frame.ack.seq);
        return;
      case "prepare":
      case "commit":
      case "abort":
        this.hooks.config(configCommandOf(frame));
        return;
      case "drain":
        this.hooks.drain({ deadlineMs: frame.drain.deadlineMs, reason: frame.drain.reason });
        return;
      case "shutdown":
        this.hooks.shutdown({ graceMs: frame.shutdown.graceMs, reason: frame.shutdown.reason });
        return;
      case "ping":
        this.link.send({ pong: { nonce: frame.ping.nonce } });
        return;
      case "hello":
      case "refuse":
        return; // the link handles these
      default:
        frame satisfies never;
    }
  }
}
