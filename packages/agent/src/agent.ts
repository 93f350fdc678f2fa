/**
 * The agent: what guest code holds, and the facade over the parts that do
 * the work. Calls become checked events (core/signals) queued through the
 * conversation with the manager (session/conversation.ts: outbox, metrics,
 * batches, link, frame dispatch), which hands configuration commands to the
 * configuration machine (core/config) and Drain / Shutdown to the lifecycle
 * commands (core/lifecycle-commands). What is left here: refusing calls once
 * the agent failed or closes, the on() listeners, and closing everything in
 * one place.
 *
 * Errors: a call that cannot become a valid signal throws a FroctalError at
 * once (bad name, payload too large, outbox full under 'reject', agent closed).
 * Everything that goes wrong later, away from any call (malformed frames from
 * the manager, a refusal, a failing handler), is reported to on('error')
 * listeners. A non-retryable refusal (bad token, version) also rejects
 * `connected`, stops reconnecting, and makes every later call throw it.
 */
import { randomUUID } from "node:crypto";
import { type Disposer, Listeners } from "@froctal/primitives";
import { DeviceChange, FroctalError, LifecyclePhase, MetricKind, toFroctalError } from "@froctal/protocol";
import { AnnouncedState } from "./core/announced.js";
import { type ConfigHandler, ConfigMachine } from "./core/config.js";
import { LifecycleCommands } from "./core/lifecycle-commands.js";
import {
  appEvent,
  type DeviceProperties,
  deviceEvent,
  lifecycleEvent,
  measureEvent,
  type PhaseName,
  toPhase,
  type WireEvent,
} from "./core/signals.js";
import { type AgentStats, createCounters } from "./core/stats.js";
import { type Consumer, consume, outcomeOf } from "./core/tasks.js";
import { exitOnSignals } from "./exit-on-signals.js";
import type { ResolvedOptions } from "./options.js";
import { Conversation } from "./session/conversation.js";
import type { LinkState } from "./session/link.js";
import { openTransport } from "./transports/open.js";
import type {
  AgentEvents,
  AgentState,
  CloseResult,
  Counter,
  DeviceSignals,
  DrainCommand,
  Session,
  ShutdownCommand,
} from "./types.js";

const LINK_STATES: Record<LinkState, AgentState> = {
  connecting: "connecting",
  handshake: "connecting",
  open: "connected",
  waiting: "waiting",
  failed: "failed",
  closed: "closed",
};

/**
 * A listener that throws is the guest's own bug. Reported to on('error') it
 * could loop (an error listener that throws), and rethrown later it would end
 * the guest over a log line: the agent swallows it, so one listener never
 * stops the others, nor the agent.
 */
const swallow = (): void => {};

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
  private readonly conversation: Conversation;
  private readonly config: ConfigMachine;
  private readonly listeners: { readonly [K in keyof AgentEvents]: Listeners<AgentEvents[K]> } = {
    connect: new Listeners<Session>(swallow),
    disconnect: new Listeners<FroctalError | undefined>(swallow),
    error: new Listeners<FroctalError>(swallow),
  };
  private readonly commands: LifecycleCommands;
  private readonly consumers = new Set<Consumer>();
  /** Why calls are refused: set when the agent failed or began to close. */
  private terminal: FroctalError | undefined;
  private closing: Promise<CloseResult> | undefined;
  private closed = false;
  private settleConnected: { resolve(s: Session): void; reject(e: FroctalError): void } | undefined;

  constructor(private readonly o: ResolvedOptions) {
    this.commands = new LifecycleCommands({
      phase: (name, detail) => this.emitSafely(lifecycleEvent(this.wallNow(), toPhase(name), detail), name),
      report: (error) => this.report(error),
      close: (timeoutMs) => this.close({ timeoutMs }),
      closeTimeoutMs: o.closeTimeoutMs,
    });
    this.config = new ConfigMachine({
      runningGeneration: o.runningGeneration,
      send: (ack) => this.conversation.answer(ack),
      report: (err) => this.report(err),
      maxReasonLength: o.limits.maxTextLength,
    });
    this.connected = new Promise<Session>((resolve, reject) => {
      this.settleConnected = { resolve, reject };
    });
    // Whoever does not await `connected` hears of failures through on('error'), not as an unhandled rejection.
    this.connected.catch(() => {});
    const device = (change: DeviceChange, id: string, kind: string, props: DeviceProperties | undefined) =>
      this.enqueue(deviceEvent(this.wallNow(), change, id, kind, props), `device ${id}`);
    this.device = {
      added: (id, kind, props) => device(DeviceChange.DEVICE_CHANGE_ADDED, id, kind, props),
      removed: (id, kind = "", props) => device(DeviceChange.DEVICE_CHANGE_REMOVED, id, kind, props),
      changed: (id, kind, props) => device(DeviceChange.DEVICE_CHANGE_CHANGED, id, kind, props),
    };
    this.conversation = new Conversation(
      o,
      { transport: o.transport ?? openTransport, streamId: this.streamId, counters: this.counters },
      {
        runningGeneration: () => this.config.runningGeneration,
        config: (command) => void this.config.handle(command),
        drain: (command) => void this.commands.drain(command),
        shutdown: (command) => void this.commands.shutdown(command),
        opened: (hello, forgotten) => this.opened(hello, forgotten),
        ended: (error) => this.listeners.disconnect.emit(error),
        failed: (error) => this.failed(error),
        report: (error) => this.report(error),
      },
    );
    this.conversation.start();
  }

  // --- state ------------------------------------------------------------------

  get state(): AgentState {
    if (this.closed) return "closed";
    if (this.closing) return "closing";
    return LINK_STATES[this.conversation.state];
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
    this.conversation.set(this.conversation.metric(name, MetricKind.METRIC_KIND_GAUGE, unit), value);
  }

  /** A counter (a running total since the agent started); `total`, when given, sets it. */
  counter(name: string, total?: number, unit?: string): Counter {
    this.live();
    const metric = this.conversation.metric(name, MetricKind.METRIC_KIND_COUNTER, unit);
    const set = (value: number) => {
      this.live();
      this.conversation.set(metric, value);
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
    return this.enqueue(appEvent(this.wallNow(), name, payload, mediaType), `event ${JSON.stringify(name)}`);
  }

  /** A lifecycle phase of the instance (or of `task`); returns its sequence number. */
  lifecycle(phase: LifecyclePhase | PhaseName, detail = "", task = ""): number {
    return this.enqueue(lifecycleEvent(this.wallNow(), toPhase(phase), detail, task), `lifecycle ${String(phase)}`);
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
    measureEvent(lifecycleEvent(0, LifecyclePhase.LIFECYCLE_PHASE_EXITED, "", task), this.conversation.eventLimits);
    const exited = (settled: PromiseSettledResult<T>) => {
      const outcome = outcomeOf(settled, this.o.limits.maxPayloadBytes, this.o.limits.maxTextLength);
      this.emitSafely(lifecycleEvent(this.wallNow(), LifecyclePhase.LIFECYCLE_PHASE_EXITED, "", task, outcome), task);
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
   * Consumes an async source: `fn` turns each value it yields into agent
   * calls. Call the result to stop; `done` settles when the source ends
   * (rejects if the source or `fn` throws, which stops the loop and is also
   * reported to on('error')). close() stops every consumer.
   */
  consume<T>(source: AsyncIterable<T>, fn: (value: T, agent: Agent) => void): Consumer {
    this.live();
    const running = consume(
      source,
      (value) => fn(value, this),
      (err) => this.report(toFroctalError(err)),
    );
    this.consumers.add(running);
    const forget = () => this.consumers.delete(running);
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
    return exitOnSignals(() => this.close(), cleanup, signals);
  }

  // --- flushing and closing ---------------------------------------------------------

  /** Writes what is pending now, as far as the connection and its backpressure allow. */
  flush(): void {
    this.conversation.flush();
  }

  /**
   * Refuses new signals, flushes, waits up to `timeoutMs` (default
   * options.closeTimeoutMs) for every event to be acked, then closes the
   * connection and releases every timer, listener and handler.
   */
  close(options: { readonly timeoutMs?: number } = {}): Promise<CloseResult> {
    if (this.closing) return this.closing;
    this.terminal ??= new FroctalError("FROCTAL_E_CLOSED", "the agent is closed");
    for (const running of [...this.consumers]) running();
    this.closing = this.shutDown(options.timeoutMs ?? this.o.closeTimeoutMs);
    return this.closing;
  }

  private async shutDown(timeoutMs: number): Promise<CloseResult> {
    const unacked = await this.conversation.close(timeoutMs);
    this.closed = true;
    this.settleConnected?.reject(this.terminal!);
    for (const l of Object.values(this.listeners)) l.clear();
    this.commands.clear();
    this.config.setHandler(undefined);
    return { unacked };
  }

  // --- internals ------------------------------------------------------------------

  /** Epoch ms: the timestamp an event carries on the wire. */
  private wallNow(): number {
    return this.o.clock.wallNow();
  }

  /** Throws why the agent takes no more signals, if it does not. */
  private live(): void {
    if (this.terminal) throw this.terminal;
  }

  private enqueue(event: WireEvent, what: string): number {
    this.live();
    const seq = this.conversation.enqueue(event, what);
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

  private opened(hello: Session, forgotten: boolean): void {
    // A manager that lost what it knew of this stream (it restarted without it) is told again what is still true.
    if (forgotten) {
      this.counters.reannounced++;
      for (const event of this.announced.snapshot(this.wallNow())) this.emitSafely(event, "state re-announced");
    }
    this.settleConnected?.resolve(hello);
    this.listeners.connect.emit(hello);
  }

  private failed(error: FroctalError): void {
    this.terminal ??= error;
    this.report(error);
    this.settleConnected?.reject(error);
    for (const running of [...this.consumers]) running();
  }
}
