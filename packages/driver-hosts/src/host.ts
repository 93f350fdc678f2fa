/**
 * One host as the manager knows it, across its connections: what it can take,
 * which instances are placed on it, and the actions sent to it that have no
 * outcome yet. Actions are keyed ("start:web-3", as the core's actionKey()):
 * an action asked for again while in flight joins the first, and every action
 * in flight is sent again when the host reconnects, under the same key, so the
 * host (which answers a key it knows without acting again) never runs it twice.
 */
import type { FleetIdentity, HostView, LaunchSpec, NetworkSpec, ObservedInstance } from "@froctal/manager";
import { type Clock, type Disposer, FroctalError } from "@froctal/primitives";

export type HostAction = { readonly key: string } & (
  | { readonly kind: "start"; readonly spec: LaunchSpec }
  | { readonly kind: "stop"; readonly instanceId: string; readonly graceMs: number }
  | { readonly kind: "networkPrepare"; readonly generation: number; readonly desired: NetworkSpec }
  | { readonly kind: "networkCommit" | "networkAbort"; readonly generation: number }
);

/** How actions reach a host: in-process (local-host.ts) or over its connection (endpoint.ts). */
export interface HostLink {
  /** Sends one action; its outcome comes back through Host.settle(). */
  send(action: HostAction): void;
  /** The host's guests of the fleet, as it sees them now. */
  inventory(fleet: FleetIdentity): Promise<readonly ObservedInstance[]>;
  /** Ends the link without stopping any guest. */
  close(): void;
}

export interface HostInfo {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly features: readonly string[];
  readonly drivers: readonly string[];
  /** The network its guests are on ("openvswitch bridge froctal0"); none if absent or "". */
  readonly network?: string;
}

/** up: connected; silent: disconnected, within its grace; lost: past it (its instances were given up). */
export type HostStatus = "up" | "silent" | "lost";

interface Pending {
  readonly action: HostAction;
  readonly done: Promise<void>;
  readonly resolve: () => void;
  readonly reject: (error: FroctalError) => void;
  readonly cancelTimeout: Disposer;
}

export class Host implements HostView {
  readonly id: string;
  info: HostInfo;
  status: HostStatus = "silent";
  link: HostLink | undefined;
  /** Instances placed here, by id, with their service. */
  readonly placed = new Map<string, string>();
  /** Instances given up when this host was lost: stopped here when it comes back, never adopted again. */
  readonly replaced = new Set<string>();
  /** Whether the host reported its guests since it last connected. */
  inventoried = false;
  readonly #byService = new Map<string, number>();
  readonly #pending = new Map<string, Pending>();
  readonly #clock: Clock;
  readonly #actionTimeoutMs: number;

  constructor(id: string, info: HostInfo, clock: Clock, actionTimeoutMs: number) {
    this.id = id;
    this.info = info;
    this.#clock = clock;
    this.#actionTimeoutMs = actionTimeoutMs;
  }

  get cpus(): number {
    return this.info.cpus;
  }

  get memoryBytes(): number {
    return this.info.memoryBytes;
  }

  get features(): readonly string[] {
    return this.info.features;
  }

  get guests(): number {
    return this.placed.size;
  }

  guestsOf(service: string): number {
    return this.#byService.get(service) ?? 0;
  }

  place(instanceId: string, service: string): void {
    if (this.placed.has(instanceId)) return;
    this.placed.set(instanceId, service);
    this.#byService.set(service, this.guestsOf(service) + 1);
  }

  unplace(instanceId: string): void {
    const service = this.placed.get(instanceId);
    if (service === undefined) return;
    this.placed.delete(instanceId);
    this.#byService.set(service, this.guestsOf(service) - 1);
  }

  /**
   * Runs an action here; resolves with its outcome. Joins the same key in
   * flight. While the host is away the action waits for it; past the action
   * timeout it fails with FROCTAL_E_TIMEOUT (retryable: asking again sends the
   * same key, which the host answers without acting twice).
   */
  act(action: HostAction): Promise<void> {
    const known = this.#pending.get(action.key);
    if (known !== undefined) return known.done;
    let resolve!: () => void;
    let reject!: (error: FroctalError) => void;
    const done = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const cancelTimeout = this.#clock.setTimeout(() => {
      this.settle(
        action.key,
        new FroctalError(
          "FROCTAL_E_TIMEOUT",
          `host ${this.id} gave no outcome for ${action.key} within ${this.#actionTimeoutMs} ms`,
        ),
      );
    }, this.#actionTimeoutMs);
    this.#pending.set(action.key, { action, done, resolve, reject, cancelTimeout });
    this.link?.send(action);
    return done;
  }

  /** Whether an action with this key is in flight. */
  pending(key: string): boolean {
    return this.#pending.has(key);
  }

  /** The outcome of the action with this key: ok without an error. An unknown key (answered before, or timed out) is ignored. */
  settle(key: string, error?: FroctalError): void {
    const pending = this.#pending.get(key);
    if (pending === undefined) return;
    this.#pending.delete(key);
    pending.cancelTimeout();
    if (error === undefined) pending.resolve();
    else pending.reject(error);
  }

  /** The host (re)connected: everything still in flight is sent again under its key. */
  connect(link: HostLink, info: HostInfo): void {
    this.link = link;
    this.info = info;
    this.status = "up";
    this.inventoried = false;
    for (const { action } of this.#pending.values()) link.send(action);
  }

  disconnect(link: HostLink): boolean {
    if (this.link !== link) return false;
    this.link = undefined;
    this.status = "silent";
    return true;
  }

  /** Fails every action in flight (the host is lost, or the driver closes). */
  failAll(error: FroctalError): void {
    for (const key of [...this.#pending.keys()]) this.settle(key, error);
  }
}
