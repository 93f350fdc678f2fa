/**
 * Doubles that count what they are asked and keep nothing else, for the
 * benchmarks: a driver that launches nothing (each start is done at once and
 * its LaunchSpec handed to `onStart`) and a session that only counts frames.
 * Keeping no record per instance is the point: heap and time measured around
 * them are the manager's own.
 */
import type { AgentSession, Driver, DriverEvent, LaunchSpec } from "@froctal/manager";
import type { Disposer } from "@froctal/primitives";
import type { ManagerFrame } from "@froctal/protocol";

export class CountingDriver implements Driver {
  readonly name = "counting";
  starts = 0;
  stops = 0;
  private readonly listeners = new Set<(event: DriverEvent) => void>();

  constructor(private readonly onStart: (spec: LaunchSpec) => void = () => {}) {}

  async start(spec: LaunchSpec): Promise<void> {
    this.starts++;
    this.onStart(spec);
    for (const l of this.listeners) l({ kind: "started", instanceId: spec.instanceId, detail: "counting" });
  }

  async stop(instanceId: string): Promise<void> {
    this.stops++;
    for (const l of this.listeners) l({ kind: "exited", instanceId, requested: true, code: 0, detail: "counting" });
  }

  async list(): Promise<[]> {
    return [];
  }

  watch(listener: (event: DriverEvent) => void): Disposer {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {}
}

let sessions = 0;

export class CountingSession implements AgentSession {
  readonly sessionId = `counting-${++sessions}`;
  sent = 0;

  constructor(
    readonly instanceId: string,
    readonly streamId: string,
  ) {}

  send(_frame: ManagerFrame): boolean {
    this.sent++;
    return true;
  }

  ack(_seq: number): void {}

  close(): void {}
}
