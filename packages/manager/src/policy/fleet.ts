/**
 * The policy API: a fleet is a TypeScript module that default-exports
 * defineFleet({...}). Policies are plain functions over read-only views of the
 * store; the manager runs them inside MobX derivations, so they recompute only
 * when a fact they read changes, and must be pure (no I/O, no clock reads).
 */
import { FroctalError } from "@froctal/protocol";

/**
 * A metric across the instances of a service. Sum, count and mean cost O(1).
 * max, min and percentile cost O(instances log instances) on their first read,
 * then O(log instances) per changed value (store/aggregate.ts, store/order.ts):
 * a policy pays for them only if it reads them.
 */
export interface MetricView {
  /** Sum of the latest value of every instance that reports it. */
  readonly sum: number;
  /** How many instances report it. */
  readonly count: number;
  /** sum / count, 0 when none report it. */
  readonly mean: number;
  /** Largest latest value. */
  readonly max: number;
  /** Smallest latest value. */
  readonly min: number;
  /** The p-quantile (0..100) of latest values. */
  percentile(p: number): number;
}

export type InstancePhase = "requested" | "starting" | "ready" | "draining" | "stopping" | "gone" | "failed";

export interface DeviceView {
  readonly id: string;
  readonly kind: string;
  readonly properties: Readonly<Record<string, string>>;
}

export interface InstanceView {
  readonly id: string;
  readonly service: string;
  readonly phase: InstancePhase;
  /** Order of creation within the fleet: larger is newer. */
  readonly ordinal: number;
  /**
   * The latest value of a metric of this instance (undefined if never reported).
   * A derivation that reads it re-runs only on this instance's samples, not on
   * the rest of the service's.
   */
  metric(name: string): number | undefined;
  /** The payload of the latest application event of this name, JSON-decoded. */
  fact<T = unknown>(name: string): T | undefined;
  /** Devices the guest reported, by id. */
  readonly devices: ReadonlyMap<string, DeviceView>;
  /** Build info from the agent's hello: features compiled into the guest. */
  readonly features: readonly string[];
  /** The configuration generation the guest reported it runs. */
  readonly generation: number;
}

export interface ServiceView {
  readonly name: string;
  /** Instances that count toward the replica target (requested, starting, ready). */
  readonly active: readonly InstanceView[];
  /** Instances that are ready and not draining: the ones to send work to. */
  readonly ready: readonly InstanceView[];
  /** The replica target the manager is currently holding. */
  readonly target: number;
  metric(name: string): MetricView;
}

export interface FleetView {
  service(name: string): ServiceView;
  instance(id: string): InstanceView | undefined;
}

/** A replica recommendation, optionally with the reason shown in logs and status. */
export type Recommendation = number | { readonly replicas: number; readonly why: string };

export interface ScaleBehavior {
  /** A change in this direction must be recommended for this long before it happens, ms. */
  readonly stabilizationMs?: number;
  /** After any change, wait this long before the next change in this direction, ms. */
  readonly cooldownMs?: number;
  /** Change by at most this many replicas at a time. */
  readonly maxStep?: number;
}

/** A service runs an `image` or a `command`: exactly one of them. */
export interface ServiceSpec {
  /**
   * What to run, in the driver's terms: for the process driver, the path of a
   * Node entry module (absolute, or relative to the driver's image root); for
   * libvirt, the name of a domain template.
   */
  readonly image?: string;
  /** Arguments after the image. A command holds its own, so it takes none here. */
  readonly args?: readonly string[];
  /**
   * An executable and its arguments, for a guest not written for Node (a
   * unikernel monitor, a shell script with a shebang): run as given, no shell
   * in between, with the same FROCTAL_* environment an image gets. A first
   * element with a slash is a path, absolute or relative to the driver's image
   * root; without one it is looked up on the guest's PATH. The process driver
   * runs commands; the libvirt driver refuses them at start.
   */
  readonly command?: readonly string[];
  /** Extra environment for the guests. */
  readonly env?: Readonly<Record<string, string>>;
  /** Host features an instance of this service needs ("hotplug-nic"): it is placed only on a host that has them all. */
  readonly needs?: readonly string[];
  /** Fixed replica count, or a function of the service (and fleet) recommending one. */
  readonly replicas: number | ((service: ServiceView, fleet: FleetView) => Recommendation);
  readonly min?: number;
  readonly max?: number;
  readonly scaleUp?: ScaleBehavior;
  readonly scaleDown?: ScaleBehavior;
  /** The metric that says how busy an instance is: scale-in drains the least busy first. */
  readonly loadMetric?: string;
  /** How long a draining instance may take before it is stopped anyway, ms. */
  readonly drainTimeoutMs?: number;
  /** How long an instance may take from launch to ready before it counts as failed, ms. */
  readonly startTimeoutMs?: number;
  /** Grace between the polite stop and the kill, ms. */
  readonly stopGraceMs?: number;
  /**
   * The configuration each instance of this service should run, derived from
   * the fleet. When one tick changes it for several instances, they all take it
   * together in one generation, or none does.
   */
  readonly config?: (fleet: FleetView, instance: InstanceView) => unknown;
}

/** A host as placement sees it: one machine that runs guests (see `froctal host`). */
export interface HostView {
  readonly id: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly features: readonly string[];
  /** Instances of the fleet placed on it. */
  readonly guests: number;
  /** Instances of this service placed on it. */
  guestsOf(service: string): number;
}

/**
 * Picks the host for a new instance of `service` among `hosts` (those up and
 * meeting the service's `needs`, never empty), by id; undefined places it
 * nowhere for now (the start fails and is retried). Must be pure.
 */
export type Placement = (service: string, hosts: readonly HostView[]) => string | undefined;

/**
 * The network a fleet wants, derived from the fleet as configurations are:
 * a network driver (ports/network.ts: Open vSwitch, say) programs it in the
 * same generation as the guests' configurations, all or nothing.
 */
export interface NetworkSpec {
  /** Services reached at a virtual IP, by name. */
  readonly services?: Readonly<Record<string, NetworkService>>;
  /** Where traffic for a prefix goes, in order: the first route whose prefix holds the destination wins. */
  readonly routes?: readonly NetworkRoute[];
}

export interface NetworkService {
  /** The IPv4 address clients connect to; the network itself answers for it (ARP). */
  readonly vip: string;
  /** The TCP port clients connect to at the VIP; the backends listen on it too. */
  readonly port: number;
  /**
   * Instance ids new connections are spread over (a backend should be ready and
   * not draining: `service.ready`). An established connection stays on its
   * backend while the set changes; a backend taken out gets no new connection.
   */
  readonly backends: readonly string[];
}

export interface NetworkRoute {
  /** An IPv4 prefix, `10.1.0.0/16`. */
  readonly prefix: string;
  /** The instance id that traffic for the prefix is sent to. */
  readonly via: string;
}

export interface FleetSpec {
  readonly name: string;
  readonly services: Readonly<Record<string, ServiceSpec>>;
  /**
   * The network state the fleet wants (virtual IPs and their backends,
   * routes), derived from the fleet; it needs a network driver
   * (ManagerOptions.network). Pure, like every policy.
   */
  readonly network?: (fleet: FleetView) => NetworkSpec;
  /** Where instances run when the fleet has several hosts. Default: spread each service, then the least loaded host per CPU. */
  readonly placement?: Placement;
  readonly rollout?: {
    /** How long participants have to prepare (and to confirm a commit) before the generation aborts, ms (default 5000). */
    readonly timeoutMs?: number;
  };
}

/**
 * A fleet module may also export `driver`: a factory for the Driver its
 * guests run on (default: local child processes). A driver that also has
 * `channels()` (per-instance byte-stream sockets, such as libvirt's
 * virtio-serial channels) gets them bridged to the manager, identity by channel.
 */
export type DriverFactory = (context: DriverContext) => import("../ports/driver.js").Driver & {
  channels?(): readonly { readonly instanceId: string; readonly path: string }[];
  /** True if its guests join the context's network (`froctal up --network` refuses a driver that does not). */
  readonly joinsNetwork?: boolean;
};

/** What a driver factory is given. */
export interface DriverContext {
  /** The network's NICs, when `froctal up --network` runs one: a VM driver plugs each guest in with one. */
  readonly nics?: import("../ports/network.js").NicNetwork;
}

const NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Declares a fleet; checks its shape so mistakes surface at load time with a
 * clear sentence. `froctal up` runs the same check on whatever a fleet module
 * exports, and so does `new Manager`, so a fleet that skips defineFleet gets
 * the same sentences.
 */
export function defineFleet<const S extends FleetSpec>(spec: S): S {
  checkFleet(spec);
  return spec;
}

/**
 * Throws FROCTAL_E_CONFIG naming every problem with a fleet spec. The spec is
 * checked as `unknown`, never trusted to have the declared type.
 */
export function checkFleet(spec: unknown): asserts spec is FleetSpec {
  const problems = fleetProblems(spec);
  if (problems.length > 0) {
    throw new FroctalError("FROCTAL_E_CONFIG", `the fleet definition is invalid: ${problems.join("; ")}`);
  }
}

type Fields = Readonly<Record<string, unknown>>;

const isObject = (v: unknown): v is Fields => typeof v === "object" && v !== null && !Array.isArray(v);
const isMs = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v) && v >= 0;
const isWhole = (v: unknown): v is number => typeof v === "number" && Number.isInteger(v) && v >= 0;

/** Every problem with a fleet spec of unknown shape, in the order a reader meets them. */
function fleetProblems(spec: unknown): string[] {
  if (!isObject(spec)) return ["a fleet is an object { name, services, rollout? }"];
  const problems: string[] = [];
  if (typeof spec.name !== "string" || !NAME.test(spec.name)) {
    problems.push(`fleet name ${JSON.stringify(spec.name) ?? "(none)"} must match ${NAME}`);
  }
  if (!isObject(spec.services)) {
    problems.push("services must be an object of service specs by name");
  } else {
    const names = Object.keys(spec.services);
    if (names.length === 0) problems.push("a fleet needs at least one service");
    for (const name of names) problems.push(...serviceProblems(name, spec.services[name]));
  }
  if (spec.network !== undefined && typeof spec.network !== "function") {
    problems.push("network must be a function (fleet) => { services?, routes? }");
  }
  if (spec.placement !== undefined && typeof spec.placement !== "function") {
    problems.push("placement must be a function (service, hosts) => host id");
  }
  if (spec.rollout !== undefined) {
    const timeoutMs = isObject(spec.rollout) ? spec.rollout.timeoutMs : undefined;
    if (!isObject(spec.rollout) || (timeoutMs !== undefined && !(isMs(timeoutMs) && timeoutMs > 0))) {
      problems.push("rollout.timeoutMs must be a number of ms > 0");
    }
  }
  return problems;
}

function serviceProblems(name: string, s: unknown): string[] {
  const at = `service ${JSON.stringify(name)}`;
  const problems: string[] = [];
  if (!NAME.test(name)) problems.push(`${at}: the name must match ${NAME}`);
  if (!isObject(s)) return [...problems, `${at}: the spec must be an object { image, replicas, ... }`];
  problems.push(...launchProblems(at, s));
  if (!(typeof s.replicas === "function" || isWhole(s.replicas))) {
    problems.push(`${at}: replicas must be a whole number >= 0 or a function`);
  }
  const min = s.min ?? 0;
  const max = s.max ?? Number.POSITIVE_INFINITY;
  if (!isWhole(min)) problems.push(`${at}: min must be a whole number >= 0`);
  if (max !== Number.POSITIVE_INFINITY && !(isWhole(max) && max >= (typeof min === "number" ? min : 0))) {
    problems.push(`${at}: max must be a whole number >= min`);
  }
  for (const key of ["drainTimeoutMs", "startTimeoutMs", "stopGraceMs"] as const) {
    if (s[key] !== undefined && !isMs(s[key])) problems.push(`${at}: ${key} must be a number of ms >= 0`);
  }
  // A maxStep of 0 would hold the target still while the scaler asks to be woken every millisecond.
  for (const dir of ["scaleUp", "scaleDown"] as const) {
    const b = s[dir] ?? {};
    if (!isObject(b)) {
      problems.push(`${at}: ${dir} must be an object { stabilizationMs?, cooldownMs?, maxStep? }`);
      continue;
    }
    for (const key of ["stabilizationMs", "cooldownMs"] as const) {
      if (b[key] !== undefined && !isMs(b[key])) problems.push(`${at}: ${dir}.${key} must be a number of ms >= 0`);
    }
    const step = b.maxStep;
    if (step !== undefined && !(step === Number.POSITIVE_INFINITY || (isWhole(step) && step >= 1))) {
      problems.push(`${at}: ${dir}.maxStep must be a whole number >= 1`);
    }
  }
  if (s.args !== undefined && !isStrings(s.args)) problems.push(`${at}: args must be a list of strings`);
  if (s.needs !== undefined && !(isStrings(s.needs) && s.needs.every((n) => n.length > 0))) {
    problems.push(`${at}: needs must be a list of host feature names`);
  }
  if (s.env !== undefined && !(isObject(s.env) && Object.values(s.env).every((v) => typeof v === "string"))) {
    problems.push(`${at}: env must be an object of strings`);
  }
  if (s.loadMetric !== undefined && !(typeof s.loadMetric === "string" && s.loadMetric.length > 0)) {
    problems.push(`${at}: loadMetric must be a non-empty string`);
  }
  if (s.config !== undefined && typeof s.config !== "function") {
    problems.push(`${at}: config must be a function (fleet, instance) => configuration`);
  }
  return problems;
}

const isStrings = (v: unknown): v is readonly string[] => Array.isArray(v) && v.every((a) => typeof a === "string");

/** What a service runs: an image or a command, exactly one, each well formed. */
function launchProblems(at: string, s: Fields): string[] {
  if (s.image !== undefined && s.command !== undefined) {
    return [`${at}: image and command exclude each other; give one of them`];
  }
  if (s.command === undefined) {
    if (typeof s.image !== "string" || s.image.length === 0) {
      return [
        s.image === undefined
          ? `${at}: give an image (a Node entry module) or a command (an executable and its arguments)`
          : `${at}: image must be a non-empty string`,
      ];
    }
    return [];
  }
  const problems: string[] = [];
  if (!isStrings(s.command) || s.command.length === 0 || s.command[0] === "") {
    problems.push(`${at}: command must be a list of strings, the executable first and not empty`);
  }
  if (s.args !== undefined) problems.push(`${at}: args go with an image; a command holds its own arguments`);
  return problems;
}
