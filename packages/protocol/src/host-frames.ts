/**
 * The host contract's frames (proto/froctal/v1/host.proto) as the manager and
 * the host daemon see them once they have passed validation: every field
 * present, every oneof narrowed to a `kind` or `frame` name, the host's guest
 * states as words. Unlike frames.ts these are fresh plain objects, not the
 * decoded messages: host frames are few, and the shapes differ from the wire
 * (a start is a LaunchSpec, an exit code of -1 is null).
 */
import type { ErrorCode } from "@froctal/primitives";
import type { Refuse } from "./frames.js";

export interface HostCapacity {
  readonly cpus: number;
  readonly memoryBytes: number;
}

export interface HostHello {
  readonly minVersion: number;
  readonly maxVersion: number;
  readonly hostId: string;
  readonly credential: string;
  readonly capacity: HostCapacity;
  readonly features: readonly string[];
  readonly drivers: readonly string[];
  /** The network its guests are on ("openvswitch bridge froctal0"), "" for none. */
  readonly network: string;
}

export interface HostWelcome {
  readonly version: number;
  readonly sessionId: string;
  readonly fleet: string;
  /** 32 lowercase hex digits. */
  readonly fleetId: string;
  readonly maxFrameBytes: number;
}

interface HostStartBase {
  readonly instanceId: string;
  readonly fleet: string;
  /** 32 lowercase hex digits. */
  readonly fleetId: string;
  readonly service: string;
  readonly env: Readonly<Record<string, string>>;
  readonly args: readonly string[];
}

/**
 * A start, shaped as the manager's LaunchSpec (an image or a command, never
 * both; the other undefined), so the host hands it to its Driver as it is.
 */
export type HostStart = HostStartBase &
  (
    | { readonly image: string; readonly command?: undefined }
    | { readonly command: readonly string[]; readonly image?: undefined }
  );

export interface HostStop {
  readonly instanceId: string;
  readonly graceMs: number;
}

/** The host's part of a network generation, shaped as the manager's NetworkSpec. */
export interface HostNetworkPrepare {
  readonly generation: number;
  readonly desired: {
    readonly services: Readonly<
      Record<string, { readonly vip: string; readonly port: number; readonly backends: readonly string[] }>
    >;
    readonly routes: readonly { readonly prefix: string; readonly via: string }[];
  };
}

export type HostAction =
  | { readonly key: string; readonly kind: "start"; readonly start: HostStart }
  | { readonly key: string; readonly kind: "stop"; readonly stop: HostStop }
  | { readonly key: string; readonly kind: "networkPrepare"; readonly networkPrepare: HostNetworkPrepare }
  | { readonly key: string; readonly kind: "networkCommit"; readonly networkCommit: { readonly generation: number } }
  | { readonly key: string; readonly kind: "networkAbort"; readonly networkAbort: { readonly generation: number } };

/** An action's answer: ok with no code, or a stable code and a sentence. */
export type HostOutcome =
  | { readonly key: string; readonly ok: true; readonly code: ""; readonly reason: "" }
  | { readonly key: string; readonly ok: false; readonly code: ErrorCode; readonly reason: string };

export interface HostListRequest {
  /** At least 1; an inventory with request id 0 is the unasked one after the welcome. */
  readonly requestId: number;
  readonly fleet: string;
  readonly fleetId: string;
}

export type HostGuestState = "running" | "stopped" | "crashed" | "paused";

export interface HostGuest {
  readonly instanceId: string;
  readonly fleet: string;
  /** 32 lowercase hex digits, or "" for a guest marked with the fleet's name only. */
  readonly fleetId: string;
  readonly service: string;
  readonly state: HostGuestState;
}

export interface HostInventory {
  /** 0 when sent unasked after the welcome; otherwise the HostListRequest's id. */
  readonly requestId: number;
  readonly guests: readonly HostGuest[];
}

export type HostGuestEvent =
  | { readonly instanceId: string; readonly kind: "started"; readonly detail: string }
  | {
      readonly instanceId: string;
      readonly kind: "exited";
      readonly requested: boolean;
      /** 0..255, or null when there is none (killed by a signal, a domain): -1 on the wire. */
      readonly code: number | null;
      readonly detail: string;
    };

export type CheckedHostFrame =
  | { readonly frame: "hello"; readonly hello: HostHello }
  | { readonly frame: "outcome"; readonly outcome: HostOutcome }
  | { readonly frame: "event"; readonly event: HostGuestEvent }
  | { readonly frame: "inventory"; readonly inventory: HostInventory };

export type CheckedHostControl =
  | { readonly frame: "welcome"; readonly welcome: HostWelcome }
  | { readonly frame: "refuse"; readonly refuse: Refuse }
  | { readonly frame: "action"; readonly action: HostAction }
  | { readonly frame: "list"; readonly list: HostListRequest };
