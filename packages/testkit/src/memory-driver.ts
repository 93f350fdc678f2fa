/**
 * An in-memory Driver for pure-logic tests: it records every call with the
 * clock's time, keeps a set of "running" guests, reports started/exited as a
 * real driver would, and can be told to fail starts. Never a stand-in for a
 * real driver in an end-to-end test.
 */

import type { Driver, DriverEvent, FleetIdentity, LaunchSpec, ObservedInstance, StopOptions } from "@froctal/manager";
import type { Clock, Disposer } from "@froctal/primitives";
import type { FroctalError } from "@froctal/protocol";

export type DriverCall =
  | { readonly at: number; readonly op: "start"; readonly instanceId: string; readonly spec: LaunchSpec }
  | { readonly at: number; readonly op: "stop"; readonly instanceId: string; readonly options: StopOptions }
  | { readonly at: number; readonly op: "list"; readonly fleet: FleetIdentity };

export interface MemoryDriverOptions {
  readonly clock: Clock;
  /** Report `started` as soon as a start succeeds (default true). */
  readonly reportStarted?: boolean;
  /** Report `exited` (requested) when a running guest is stopped (default true). */
  readonly reportExited?: boolean;
  /** Leave stop() pending until the test calls completeStop(), as a guest that takes its grace period would. */
  readonly holdStops?: boolean;
}

interface StartFailure {
  readonly error: FroctalError;
  readonly instanceId: string | undefined;
  remaining: number;
}

export class MemoryDriver implements Driver {
  readonly name = "memory";
  readonly calls: DriverCall[] = [];
  /** Guests that run now, by instance id. */
  readonly running = new Map<string, LaunchSpec>();
  /** Guests an earlier froctal launched, marked with their fleet's name and no fleet id (see runUnmarked). */
  readonly unmarked = new Map<string, { readonly fleet: string; readonly service: string }>();
  private readonly listeners = new Set<(event: DriverEvent) => void>();
  private readonly failures: StartFailure[] = [];
  private readonly held = new Map<string, (() => void)[]>();
  closed = false;

  constructor(private readonly options: MemoryDriverOptions) {}

  /** Makes the next `times` starts (of `instanceId`, or of any instance) reject with `error`. */
  failStart(error: FroctalError, options: { times?: number; instanceId?: string } = {}): void {
    this.failures.push({ error, instanceId: options.instanceId, remaining: options.times ?? 1 });
  }

  /** The calls of one kind, in order. */
  callsOf<K extends DriverCall["op"]>(op: K): Extract<DriverCall, { op: K }>[] {
    return this.calls.filter((c): c is Extract<DriverCall, { op: K }> => c.op === op);
  }

  async start(spec: LaunchSpec): Promise<void> {
    this.calls.push({ at: this.options.clock.now(), op: "start", instanceId: spec.instanceId, spec });
    const failure = this.failures.find((f) => f.instanceId === undefined || f.instanceId === spec.instanceId);
    if (failure !== undefined) {
      if (--failure.remaining <= 0) this.failures.splice(this.failures.indexOf(failure), 1);
      throw failure.error;
    }
    if (this.running.has(spec.instanceId)) return;
    this.running.set(spec.instanceId, spec);
    if (this.options.reportStarted ?? true)
      this.emit({ kind: "started", instanceId: spec.instanceId, detail: "memory" });
  }

  stop(instanceId: string, options: StopOptions): Promise<void> {
    this.calls.push({ at: this.options.clock.now(), op: "stop", instanceId, options });
    if (!(this.options.holdStops ?? false)) {
      this.exit(instanceId);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      const waiting = this.held.get(instanceId) ?? [];
      waiting.push(resolve);
      this.held.set(instanceId, waiting);
    });
  }

  /** Instance ids whose stop is pending (holdStops). */
  get stopping(): readonly string[] {
    return [...this.held.keys()];
  }

  /** Finishes the pending stops of an instance: the guest exits (reported), then stop() resolves. */
  completeStop(instanceId: string): void {
    const waiting = this.held.get(instanceId);
    if (waiting === undefined) throw new Error(`no stop of ${instanceId} is pending`);
    this.held.delete(instanceId);
    this.exit(instanceId);
    for (const resolve of waiting) resolve();
  }

  private exit(instanceId: string): void {
    if (this.unmarked.delete(instanceId)) return;
    if (!this.running.delete(instanceId)) return;
    if (this.options.reportExited ?? true) {
      this.emit({ kind: "exited", instanceId, requested: true, code: 0, detail: "stopped" });
    }
  }

  /** A guest as an earlier froctal left it: running, marked with a fleet's name only. list() reports it; stop() ends it. */
  runUnmarked(instanceId: string, fleet: string, service: string): void {
    this.unmarked.set(instanceId, { fleet, service });
  }

  async list(fleet: FleetIdentity): Promise<readonly ObservedInstance[]> {
    this.calls.push({ at: this.options.clock.now(), op: "list", fleet });
    const state = "running" as const;
    const ours = [...this.running.values()]
      .filter((s) => s.fleetId === fleet.id)
      .map((s) => ({ instanceId: s.instanceId, fleet: s.fleet, fleetId: s.fleetId, service: s.service, state }));
    const unproven = [...this.unmarked]
      .filter(([, u]) => u.fleet === fleet.name)
      .map(([instanceId, u]) => ({ instanceId, fleet: u.fleet, fleetId: undefined, service: u.service, state }));
    return [...ours, ...unproven];
  }

  watch(listener: (event: DriverEvent) => void): Disposer {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** Reports a guest fact as the driver would. */
  emit(event: DriverEvent): void {
    for (const listener of [...this.listeners]) listener(event);
  }

  /** The guest exits on its own (a crash unless `code` is 0). */
  crash(instanceId: string, code: number | null = 1, detail = `exit code ${code}`): void {
    this.running.delete(instanceId);
    this.emit({ kind: "exited", instanceId, requested: false, code, detail });
  }
}
