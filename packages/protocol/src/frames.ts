/**
 * The frames as the rest of froctal sees them once they have passed
 * validation: every field present, every oneof narrowed by its case name.
 * Decoded protobufjs messages satisfy these shapes (absent scalars read their
 * defaults from the prototype), so validation narrows the type without copying.
 */
import type { ConfigAckStatus, DeviceChange, LifecyclePhase, MetricKind } from "./wire.js";

export interface BuildInfo {
  readonly app: string;
  readonly appVersion: string;
  readonly agentVersion: string;
  readonly features: readonly string[];
  readonly platform: string;
}

export interface Hello {
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly instanceId: string;
  readonly token: string;
  readonly build: BuildInfo;
  readonly streamId: string;
  readonly runningGeneration: number;
}

export interface MetricDecl {
  readonly id: number;
  readonly name: string;
  readonly kind: MetricKind;
  readonly unit: string;
}

export interface DeviceEvent {
  readonly change: DeviceChange;
  readonly deviceId: string;
  readonly kind: string;
  readonly properties: Readonly<Record<string, string>>;
}

export interface ExitResult {
  readonly ok: boolean;
  readonly code: number;
  readonly valueJson: string;
  readonly error: string;
}

export interface Lifecycle {
  readonly phase: LifecyclePhase;
  readonly task: string;
  readonly result?: ExitResult | null;
  readonly detail: string;
}

export interface AppEvent {
  readonly name: string;
  readonly payload: Uint8Array;
  readonly mediaType: string;
}

export type Event = { readonly atMs: number } & (
  | { readonly kind: "device"; readonly device: DeviceEvent }
  | { readonly kind: "lifecycle"; readonly lifecycle: Lifecycle }
  | { readonly kind: "app"; readonly app: AppEvent }
);

export interface Batch {
  readonly firstSeq: number;
  readonly events: readonly Event[];
  readonly metricDecls: readonly MetricDecl[];
  readonly metricIds: readonly number[];
  readonly metricValues: readonly number[];
  readonly sentAtMs: number;
}

export interface ConfigAck {
  readonly generation: number;
  readonly nonce: string;
  readonly status: ConfigAckStatus;
  readonly reason: string;
  readonly runningGeneration: number;
}

export type CheckedAgentFrame =
  | { readonly frame: "hello"; readonly hello: Hello }
  | { readonly frame: "batch"; readonly batch: Batch }
  | { readonly frame: "configAck"; readonly configAck: ConfigAck }
  | { readonly frame: "pong"; readonly pong: { readonly nonce: number } };

export interface ManagerHello {
  readonly version: number;
  readonly sessionId: string;
  readonly ackedSeq: number;
  readonly maxFrameBytes: number;
  readonly maxBatchEvents: number;
  readonly heartbeatMs: number;
}

export interface Refuse {
  readonly code: string;
  readonly reason: string;
  readonly retryable: boolean;
  readonly retryAfterMs: number;
}

export interface ConfigPrepare {
  readonly generation: number;
  readonly nonce: string;
  readonly config: Uint8Array;
  readonly mediaType: string;
  readonly timeoutMs: number;
}

export interface ConfigCommit {
  readonly generation: number;
  readonly nonce: string;
}

export interface ConfigAbort {
  readonly generation: number;
  readonly nonce: string;
  readonly reason: string;
}

export type CheckedManagerFrame =
  | { readonly frame: "hello"; readonly hello: ManagerHello }
  | { readonly frame: "refuse"; readonly refuse: Refuse }
  | { readonly frame: "ack"; readonly ack: { readonly seq: number } }
  | { readonly frame: "prepare"; readonly prepare: ConfigPrepare }
  | { readonly frame: "commit"; readonly commit: ConfigCommit }
  | { readonly frame: "abort"; readonly abort: ConfigAbort }
  | { readonly frame: "drain"; readonly drain: { readonly deadlineMs: number; readonly reason: string } }
  | { readonly frame: "shutdown"; readonly shutdown: { readonly graceMs: number; readonly reason: string } }
  | { readonly frame: "ping"; readonly ping: { readonly nonce: number } };
