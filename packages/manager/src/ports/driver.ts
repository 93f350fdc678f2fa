/**
 * The Driver port: how the manager's executor starts and stops guests. The
 * embedded default runs guests as local child processes (driver-process); the
 * libvirt driver runs them as domains. Every call is idempotent, keyed by
 * instance id: the executor may repeat any call after a crash or a timeout.
 */
import type { Disposer } from "@froctal/primitives";

/** Everything a driver needs to launch one instance. */
export interface LaunchSpec {
  readonly instanceId: string;
  readonly fleet: string;
  readonly service: string;
  /**
   * What to run, in the driver's terms: for the process driver, the path of a
   * Node entry module; for libvirt, a domain template reference.
   */
  readonly image: string;
  /** Environment for the guest: FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN, and the service's own. */
  readonly env: Readonly<Record<string, string>>;
  /** Arguments for the image, if the driver supports them. */
  readonly args?: readonly string[];
}

/** An instance as the driver sees it, for adoption after a manager restart. */
export interface ObservedInstance {
  readonly instanceId: string;
  readonly fleet: string;
  readonly service: string;
  readonly state: "running" | "stopped" | "crashed" | "paused";
}

/** Facts a driver reports about its guests as they happen. */
export type DriverEvent =
  | { readonly kind: "started"; readonly instanceId: string; readonly detail: string }
  | {
      readonly kind: "exited";
      readonly instanceId: string;
      /** True when the guest stopped because the driver was asked to stop it. */
      readonly requested: boolean;
      readonly code: number | null;
      readonly detail: string;
    };

export interface StopOptions {
  /** Time the guest has to exit after a polite request, before it is killed, ms. */
  readonly graceMs: number;
}

export interface Driver {
  /** Short name for logs and status ("process", "libvirt"). */
  readonly name: string;
  /** Starts the instance; resolves once it is launched (not when its agent is ready). No-op if it already runs. */
  start(spec: LaunchSpec): Promise<void>;
  /** Stops the instance and resolves once it is gone. No-op if it does not run. */
  stop(instanceId: string, options: StopOptions): Promise<void>;
  /** The instances of `fleet` this driver can see, for re-adoption. */
  list(fleet: string): Promise<readonly ObservedInstance[]>;
  /** Reports guest facts as they happen. */
  watch(listener: (event: DriverEvent) => void): Disposer;
  /** Releases the driver's own resources. Drivers whose guests can be re-adopted (libvirt) leave them running; the process driver, whose children cannot be, stops them. */
  close(): Promise<void>;
}
