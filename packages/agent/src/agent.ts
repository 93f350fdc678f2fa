/**
 * The agent: what guest code holds. It owns the outbox (events until acked),
 * the metric table (latest value per metric), the config state machine and
 * the link (the reconnecting connection), and turns calls into signals.
 *
 * Errors: a call that cannot become a valid signal throws a FroctalError at
 * once (bad name, payload too large, outbox full under 'reject', agent closed).
 * Everything that goes wrong later, away from any call (malformed frames from
 * the manager, a refusal, a failing handler), is reported to on('error')
 * listeners. A non-retryable refusal (bad token, version) also rejects
 * `connected`, stops reconnecting, and makes every later call throw it.
 */
import { randomUUID } from "node:crypto";
import {
  DeviceChange,
  FroctalError,
  LifecyclePhase,
  type ManagerHello,
  MetricKind,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  toFroctalError,
} from "@froctal/protocol";
import type { Disposer } from "./clock.js";
import { type ConfigHandler, ConfigMachine } from "./config.js";
import { type DrainCommand, LifecycleCommands, type ShutdownCommand } from "./lifecycle-commands.js";
import { Link, type LinkState } from "./link.js";
import { Listeners } from "./listeners.js";
import type { ResolvedOptions } from "./options.js";
import { Sender } from "./sender.js";
import {
  appEvent,
  type DeviceProperties,
  deviceEvent,
  lifecycleEvent,
  measureEvent,
  type PhaseName,
  toPhase,
  type WireEvent,
} from "./signals.js";
import { AnnouncedState } from "./state.js";
import { type AgentStats, createCounters } from "./stats.js";
import { type Absorption, absorb, outcomeOf } from "./tasks.js";
import { openTransport } from "./transports/open.js";
import { AGENT_VERSION } from "./version.js";

/** The session the manager opened: its ManagerHello. */
export type Session = ManagerHello;

export type { DrainCommand, ShutdownCommand };

export type AgentState = "connecting" | "connected" | "waiting" | "failed" | "closing" | "closed";

export interface AgentEvents {
  /** A session opened (first connection or a reconnect). */
  connect: Session;
  /** An open session ended; the agent reconnects unless it failed or was closed. */
  disconnect: FroctalError | undefined;
  /** Something went wrong away from any call; see the file comment. */
  error: FroctalError;
}

export interface Counter {
  /** Adds `n` (default 1, never negative) to the running total. */
  add(n?: number): void;
  /** Sets the running total. */
  set(total: number): void;
  readonly total: number;
}

export interface DeviceSignals {
  added(deviceId: string, kind: string, properties?: DeviceProperties): number;
  removed(deviceId: string, kind?: string, properties?: DeviceProperties): number;
  changed(deviceId: string, kind: string, properties?: DeviceProperties): number;
}

export interface CloseResult {
  /** Events the manager never acknowledged (lost with this agent). */
  readonly unacked: number;
}

export class Agent {
  /** Identifies this agent's event stream; fixed for the life of the object, kept across reconnects. */
  readonly streamId: string = randomUUID();
  /**
   * Settles with the first session: resolves on the first accepted hello,
   * rejects with the refusal that stopped the agent, or FROCTAL_E_CLOSED.
   * Signals may be emitted before it settles; they wait in the outbox.
   */
  readonly connected: Promise<Session>;
  /** Device hot-plug signals; each returns the event's sequence number. */
  readonly device: DeviceSignals;

  private readonly counters = createCounters();
  /** What is still true of this guest, re-announced to a manager that forgot it. */
  private readonly announced = new AnnouncedState();
  /** The highest event seq any manager acknowledged on this stream. */
  private highestAcked = 0;
  private readonly sender: Sender;
  private readonly config: ConfigMachine;
  private readonly link: Link;
  private readonly listeners: { readonly [K in keyof AgentEvents]: Listeners<AgentEvents[K]> } = {
    connect: new Listeners<Session>(),
    disconnect: new Listeners<FroctalError | undefined>(),
    error: new Listeners<FroctalError>(),
  };
  private readonly commands: LifecycleCommands;
  private readonly absorptions = new Set<Absorption>();
  /** Why calls are refused: set when the agent failed or began to close. */
  private terminal: FroctalError | undefined;
  private closing: Promise<CloseResult> | undefined;
  private closed = false;
  private settleConnected: { resolve(s: Session): void; reject(e: FroctalError): void } | undefined;

  constructor(private readonly o: ResolvedOptions) {
    // The link is made below; the sender reaches it only once a session is open.
    const wire = {
      get bufferedAmount() {
        return link.bufferedAmount;
      },
      sendBytes: (bytes: Uint8Array) => link.sendBytes(bytes),
    };
    this.sender = new Sender(o, wire, this.counters, (e) => this.report(e));
    this.commands = new LifecycleCommands({
      phase: (name, detail) => this.emitSafely(lifecycleEvent(this.now(), toPhase(name), detail), name),
      report: (error) => this.report(error),
      close: (timeoutMs) => this.close({ timeoutMs }),
      closeTimeoutMs: o.closeTimeoutMs,
    });
    this.config = new ConfigMachine(
      o.runningGeneration,
      (ack) => this.link.send({ configAck: ack }),
      (err) => this.report(err),
      o.limits.maxTextLength,
    );
    this.connected = new Promise<Session>((resolve, reject) => {
      this.settleConnected = { resolve, reject };
    });
    // Whoever does not await `connected` hears of failures through on('error'), not as an unhandled rejection.
    this.connected.catch(() => {});
    this.device = {
      added: (id, kind, props) =>
        this.enqueue(deviceEvent(this.now(), DeviceChange.DEVICE_CHANGE_ADDED, id, kind, props), `device ${id}`),
      removed: (id, kind = "", props) =>
        this.enqueue(deviceEvent(this.now(), DeviceChange.DEVICE_CHANGE_REMOVED, id, kind, props), `device ${id}`),
      changed: (id, kind, props) =>
        this.enqueue(deviceEvent(this.now(), DeviceChange.DEVICE_CHANGE_CHANGED, id, kind, props), `device ${id}`),
    };
    const link = new Link(o, o.transport ?? openTransport, {
      hello: () => ({
        minVersion: MIN_PROTOCOL_VERSION,
        maxVersion: PROTOCOL_VERSION,
        instanceId: o.instanceId,
        token: o.token,
        build: { ...o.build, agentVersion: AGENT_VERSION },
        streamId: this.streamId,
        runningGeneration: this.config.runningGeneration,
      }),
      opened: (h) =>
        this.opened({
          version: h.version,
          sessionId: h.sessionId,
          ackedSeq: h.ackedSeq,
          maxFrameBytes: h.maxFrameBytes,
          maxBatchEvents: h.maxBatchEvents,
          heartbeatMs: h.heartbeatMs,
        }),
      frame: (frame) => {
        switch (frame.frame) {
          case "ack":
            this.highestAcked = Math.max(this.highestAcked, frame.ack.seq);
            this.sender.ack(frame.ack.seq);
            return;
          // Decoded messages keep unset fields' defaults on their prototype: read fields, never spread.
          case "prepare": {
            const { generation, nonce, config, mediaType } = frame.prepare;
            void this.config.handle({ kind: "prepare", generation, nonce, config, mediaType });
            return;
          }
          case "commit":
            void this.config.handle({ kind: "commit", generation: frame.commit.generation, nonce: frame.commit.nonce });
            return;
          case "abort":
            void this.config.handle({ kind: "abort", generation: frame.abort.generation, nonce: frame.abort.nonce });
            return;
          case "drain":
            void this.commands.drain({ deadlineMs: frame.drain.deadlineMs, reason: frame.drain.reason });
            return;
          case "shutdown":
            void this.commands.shutdown({ graceMs: frame.shutdown.graceMs, reason: frame.shutdown.reason });
            return;
          case "ping":
            this.link.send({ pong: { nonce: frame.ping.nonce } });
            return;
          case "hello":
          case "refuse":
            return; // the link handles these
          default:
            return frame satisfies never;
        }
      },
      ended: (error, wasOpen) => this.ended(error, wasOpen),
      error: (error) => this.report(error),
      failed: (error) => this.failed(error),
      wrote: (bytes) => {
        this.counters.frames++;
        this.counters.bytes += bytes;
        this.sender.wrote();
      },
    });
    this.link = link;
    link.start();
  }

  // --- state ------------------------------------------------------------------

  get state(): AgentState {
    if (this.closed) return "closed";
    if (this.closing) return "closing";
    const map: Record<LinkState, AgentState> = {
      connecting: "connecting",
      handshake: "connecting",
      open: "connected",
      waiting: "waiting",
      failed: "failed",
      closed: "closed",
    };
    return map[this.link.state];
  }

  /** A snapshot of the counters. */
  get stats(): AgentStats {
    return { ...this.counters };
  }

  /** The configuration generation actually applied (what the next hello reports). */
  get runningGeneration(): number {
    return this.config.runningGeneration;
  }

  on<K extends keyof AgentEvents>(event: K, listener: (value: AgentEvents[K]) => void): Disposer {
    return this.listeners[event].add(listener);
  }

  // --- metrics ------------------------------------------------------------------

  /** Sets a gauge: a level that goes up and down. Only the latest value between flushes is sent. */
  gauge(name: string, value: number, unit?: string): void {
    this.live();
    const metrics = this.sender.metrics;
    metrics.set(metrics.metric(name, MetricKind.METRIC_KIND_GAUGE, unit), value);
    this.sender.soon();
  }

  /** A counter (a running total since the agent started); `total`, when given, sets it. */
  counter(name: string, total?: number, unit?: string): Counter {
    this.live();
    const metrics = this.sender.metrics;
    const metric = metrics.metric(name, MetricKind.METRIC_KIND_COUNTER, unit);
    const set = (value: number) => {
      this.live();
      metrics.set(metric, value);
      this.sender.soon();
    };
    const counter: Counter = {
      add: (n = 1) => {
        if (typeof n !== "number" || !(n >= 0)) {
          throw new FroctalError("FROCTAL_E_FRAME_INVALID", `counter ${JSON.stringify(name)} cannot add ${String(n)}`);
        }
        set((metric.value ?? 0) + n);
      },
      set,
      get total() {
        return metric.value ?? 0;
      },
    };
    if (total !== undefined) set(total);
    return counter;
  }

  // --- events ------------------------------------------------------------------

  /** An application event; returns its sequence number. Bytes travel as given, anything else as JSON. */
  event(name: string, payload?: unknown, mediaType?: string): number {
    return this.enqueue(appEvent(this.now(), name, payload, mediaType), `event ${JSON.stringify(name)}`);
  }

  /** A lifecycle phase of the instance (or of `task`); returns its sequence number. */
  lifecycle(phase: LifecyclePhase | PhaseName, detail = "", task = ""): number {
    return this.enqueue(lifecycleEvent(this.now(), toPhase(phase), detail, task), `lifecycle ${String(phase)}`);
  }

  starting(detail = ""): number {
    return this.lifecycle(LifecyclePhase.LIFECYCLE_PHASE_STARTING, detail);
  }

  ready(detail = ""): number {
    return this.lifecycle(LifecyclePhase.LIFECYCLE_PHASE_READY, detail);
  }

  draining(detail = ""): number {
    return this.lifecycle(LifecyclePhase.LIFECYCLE_PHASE_DRAINING, detail);
  }

  drained(detail = ""): number {
    return this.lifecycle(LifecyclePhase.LIFECYCLE_PHASE_DRAINED, detail);
  }

  stopping(detail = ""): number {
    return this.lifecycle(LifecyclePhase.LIFECYCLE_PHASE_STOPPING, detail);
  }

  /**
   * Reports how `promise` ends as a lifecycle EXITED signal (for `task`, or
   * for the instance when empty): its value as JSON, or its error. Returns a
   * promise with the same outcome; the signal is queued before it settles.
   */
  track<T>(promise: PromiseLike<T>, task = ""): Promise<T> {
    this.live();
    measureEvent(lifecycleEvent(0, LifecyclePhase.LIFECYCLE_PHASE_EXITED, "", task), this.sender.eventLimits);
    const exited = (settled: PromiseSettledResult<T>) => {
      const outcome = outcomeOf(settled, this.o.limits.maxPayloadBytes, this.o.limits.maxTextLength);
      this.emitSafely(lifecycleEvent(this.now(), LifecyclePhase.LIFECYCLE_PHASE_EXITED, "", task, outcome), task);
    };
    return Promise.resolve(promise).then(
      (value) => {
        exited({ status: "fulfilled", value });
        return value;
      },
      (reason: unknown) => {
        exited({ status: "rejected", reason });
        throw reason;
      },
    );
  }

  /**
   * Turns every value `source` yields into a signal: `fn` maps it to agent
   * calls. Call the result to stop; `done` settles when the source ends
   * (rejects if the source or `fn` throws, which stops the loop and is also
   * reported to on('error')). close() stops every absorb.
   */
  absorb<T>(source: AsyncIterable<T>, fn: (value: T, agent: Agent) => void): Absorption {
    this.live();
    const running = absorb(
      source,
      (value) => fn(value, this),
      (err) => this.report(toFroctalError(err)),
    );
    this.absorptions.add(running);
    const forget = () => this.absorptions.delete(running);
    running.done.then(forget, forget);
    return running;
  }

  // --- commands ------------------------------------------------------------------

  /** Receives configuration pushes (one handler per agent); see ConfigHandler. */
  onConfig<C = unknown>(handler: ConfigHandler<C>): Disposer {
    this.live();
    if (this.config.currentHandler) {
      throw new FroctalError("FROCTAL_E_CONFIG", "a configuration handler is already registered (agent.onConfig)");
    }
    const h = handler as ConfigHandler;
    this.config.setHandler(h);
    return () => {
      if (this.config.currentHandler === h) this.config.setHandler(undefined);
    };
  }

  /**
   * Runs on a Drain command. The agent reports DRAINING, awaits every drain
   * handler, then reports DRAINED (not if a handler fails: the manager's
   * deadline then decides). Without handlers it reports both at once.
   */
  onDrain(handler: (drain: DrainCommand) => void | Promise<void>): Disposer {
    this.live();
    return this.commands.onDrain(handler);
  }

  /** Runs on a Shutdown command, after the agent reports STOPPING; once all handlers finish, the agent closes. */
  onShutdown(handler: (shutdown: ShutdownCommand) => void | Promise<void>): Disposer {
    this.live();
    return this.commands.onShutdown(handler);
  }

  /**
   * Ends the guest process cleanly on a signal (default SIGTERM and SIGINT, what
   * a driver's polite stop sends): runs `cleanup` (stop timers, close servers),
   * closes the agent (flushing what it can), then exits 0. The disposer removes
   * the signal handlers.
   */
  exitOnSignals(
    cleanup: () => void | Promise<void> = () => {},
    signals: readonly NodeJS.Signals[] = ["SIGTERM", "SIGINT"],
  ): Disposer {
    let exiting = false;
    const onSignal = () => {
      if (exiting) return;
      exiting = true;
      void (async () => {
        try {
          await cleanup();
        } finally {
          await this.close();
          process.exit(0);
        }
      })();
    };
    for (const signal of signals) process.once(signal, onSignal);
    return () => {
      for (const signal of signals) process.off(signal, onSignal);
    };
  }

  // --- flushing and closing ---------------------------------------------------------

  /** Writes what is pending now, as far as the connection and its backpressure allow. */
  flush(): void {
    this.sender.flush();
  }

  /**
   * Refuses new signals, flushes, waits up to `timeoutMs` (default
   * options.closeTimeoutMs) for every event to be acked, then closes the
   * connection and releases every timer, listener and handler.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<CloseResult> {
    if (this.closing) return this.closing;
    this.terminal ??= new FroctalError("FROCTAL_E_CLOSED", "the agent is closed");
    for (const running of [...this.absorptions]) running();
    this.closing = this.shutDown(options.timeoutMs ?? this.o.closeTimeoutMs);
    return this.closing;
  }

  private async shutDown(timeoutMs: number): Promise<CloseResult> {
    if (this.link.state !== "failed") {
      this.sender.flush();
      await this.sender.whenSettled(timeoutMs);
    }
    this.link.close();
    this.sender.abandon();
    this.closed = true;
    this.settleConnected?.reject(this.terminal!);
    for (const l of Object.values(this.listeners)) l.clear();
    this.commands.clear();
    this.config.setHandler(undefined);
    return { unacked: this.sender.outbox.length };
  }

  // --- internals ------------------------------------------------------------------

  private now(): number {
    return this.o.clock.now();
  }

  /** Throws why the agent takes no more signals, if it does not. */
  private live(): void {
    if (this.terminal) throw this.terminal;
  }

  private enqueue(event: WireEvent, what: string): number {
    this.live();
    const seq = this.sender.enqueue(event, what);
    this.announced.record(event);
    return seq;
  }

  /** Queues a signal the agent makes itself; failures are reported, not thrown. */
  private emitSafely(event: WireEvent, what: string): void {
    try {
      this.enqueue(event, what);
    } catch (err) {
      if (!this.closed) this.report(toFroctalError(err));
    }
  }

  private report(error: FroctalError): void {
    this.counters.errors++;
    this.listeners.error.emit(error);
  }

  private opened(hello: Session): void {
    if (this.counters.connects++ > 0) this.counters.reconnects++;
    // A manager that answers this stream with less than it acknowledged before has lost what it knew
    // (it restarted without it): tell it again what is still true.
    const forgotten = hello.ackedSeq < this.highestAcked;
    this.sender.open(hello);
    if (forgotten) {
      this.counters.reannounced++;
      for (const event of this.announced.snapshot(this.now())) this.emitSafely(event, "state re-announced");
    }
    this.settleConnected?.resolve(hello);
    this.listeners.connect.emit(hello);
  }

  private ended(error: FroctalError | undefined, wasOpen: boolean): void {
    this.sender.pause();
    if (wasOpen) this.listeners.disconnect.emit(error);
  }

  private failed(error: FroctalError): void {
    this.terminal ??= error;
    this.report(error);
    this.settleConnected?.reject(error);
    for (const running of [...this.absorptions]) running();
    this.sender.abandon();
  }
}
