/**
 * The Driver port: how the manager's executor starts and stops guests. The
 * embedded default runs guests as local child processes (driver-process); the
 * libvirt driver runs them as domains. Every call is idempotent, keyed by
 * instance id: the executor may repeat any call after a crash or a timeout.
 */
import type { Disposer } from "@froctal/primitives";

/**
 * Everything a driver needs to launch one instance: an `image` or a `command`,
 * never both (the service's spec gives exactly one; see policy/fleet.ts).
 */
export type LaunchSpec = LaunchBase & (LaunchImage | LaunchCommand);

interface LaunchBase {
  readonly instanceId: string;
  readonly fleet: string;
  /**
   * The fleet's id (FleetIdentity.id): the driver marks the guest with it,
   * and list() finds the guest by it. The name alone proves nothing: two
   * fleets may share one.
   */
  readonly fleetId: string;
  readonly service: string;
  /** Environment for the guest: FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN, and the service's own. */
  readonly env: Readonly<Record<string, string>>;
  /** Arguments for the image, if the driver supports them; a command carries its own. */
  readonly args?: readonly string[];
}

interface LaunchImage {
  /**
   * What to run, in the driver's terms: for the process driver, the path of a
   * Node entry module; for libvirt, a domain template reference.
   */
  readonly image: string;
  readonly command?: undefined;
}

interface LaunchCommand {
  /**
   * An executable and its arguments, run as given (no shell): a guest not
   * written for Node. Only drivers that run local processes support it; the
   * others refuse it at start with FROCTAL_E_CONFIG.
   */
  readonly command: readonly string[];
  readonly image?: undefined;
}

/**
 * Which fleet a list() is for. `id` is unique (128 random bits as 32 hex
 * digits, made at the fleet's first `froctal up` and kept in its state): what
 * carries it is provably the fleet's. `name` only finds the guests earlier
 * froctal versions marked with the fleet's name and no id.
 */
export interface FleetIdentity {
  readonly name: string;
  readonly id: string;
}

/** An instance as the driver sees it, for adoption after a manager restart. */
export interface ObservedInstance {
  readonly instanceId: string;
  readonly fleet: string;
  /**
   * The fleet id the guest carries: the one list() was asked for, or
   * undefined for a guest an earlier froctal marked with the fleet's name
   * only. Such a guest may be another fleet's of the same name: it is never
   * adopted, never stopped.
   */
  readonly fleetId: string | undefined;
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
  /**
   * The instances this driver can see that carry `fleet.id`, for re-adoption,
   * and those that carry `fleet.name` but no id at all (see ObservedInstance.fleetId);
   * never one that carries another fleet id.
   */
  list(fleet: FleetIdentity): Promise<readonly ObservedInstance[]>;
  /** Reports guest facts as they happen. */
  watch(listener: (event: DriverEvent) => void): Disposer;
  /**
   * Releases the driver's own resources. Drivers whose guests can be re-adopted
   * (libvirt; the process driver in keep mode, as `froctal host` runs it) leave
   * them running; the embedded process driver, whose children die with it, stops them.
   */
  close(): Promise<void>;
}
