/**
 * The shapes of the public API that the facade (agent.ts) hands to guest
 * code, apart from the class itself.
 */
import type { FroctalError, ManagerHello } from "@froctal/protocol";
import type { DeviceProperties } from "./core/signals.js";

export type { DrainCommand, ShutdownCommand } from "./core/lifecycle-commands.js";

/** The session the manager opened: its ManagerHello. */
export type Session = ManagerHello;

export type AgentState = "connecting" | "connected" | "waiting" | "failed" | "closing" | "closed";

export interface AgentEvents {
  /** A session opened (first connection or a reconnect). */
  connect: Session;
  /** An open session ended; the agent reconnects unless it failed or was closed. */
  disconnect: FroctalError | undefined;
  /** Something went wrong away from any call; see the comment atop agent.ts. */
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
