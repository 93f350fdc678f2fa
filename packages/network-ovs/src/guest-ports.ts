import { FroctalError } from "@froctal/primitives";
import {
  checkGuestPortSpec,
  GUEST_INTERFACE,
  type GuestPortNames,
  type GuestPortSpec,
  guestPortNames,
} from "./guest-spec.js";
import { type Argv, DEFAULT_ETHTOOL, DEFAULT_IP, type IpOptions, netnsCommand, runIpTool } from "./ip.js";
import { type OvsOptions, runTool } from "./run.js";

export interface GuestPortsOptions extends OvsOptions, IpOptions {
  /** Mixed into every name's hash: two managers (or test files) on one host give different scopes. Default "". */
  readonly scope?: string;
}

/** One guest on the bridge: what flows need to reach it. */
export interface GuestPort extends GuestPortNames {
  readonly instanceId: string;
  readonly bridge: string;
  /** The guest's end of the veth, inside its namespace: always `eth0`. */
  readonly guestInterface: string;
  /** The OpenFlow port number of `hostInterface` on `bridge`, for `output:` actions and `in_port=` matches. */
  readonly ofport: number;
  /** As given, `10.0.0.2/24`. */
  readonly address: string;
  /** The guest's MAC as the kernel reports it: the given one, or the random one it chose. */
  readonly mac: string;
}

/** A VM's NIC on the bridge: the tap it opens. */
export interface TapPort {
  readonly instanceId: string;
  readonly bridge: string;
  /** The tap device and the bridge port's name (the names' `hostInterface`). */
  readonly tap: string;
  readonly ofport: number;
}

/**
 * Guests on the bridge: each in a network namespace of its own, joined to the
 * bridge by a veth pair, or a VM whose NIC opens a tap on the bridge. Needs root.
 */
export interface GuestPorts {
  /**
   * Makes the namespace (`lo` up), a veth whose guest end is `eth0` in it (the
   * address, the MAC if given, up), whose host end is a port of the bridge, with
   * tx checksum offload off on both (on a netdev bridge, TCP checksums fail
   * otherwise). All or nothing: a failure midway removes what this call made.
   * An instance already plugged (its namespace exists) is refused, untouched:
   * unplug it first.
   */
  plug(spec: GuestPortSpec): Promise<GuestPort>;
  /**
   * Makes a tap device (persistent, up, tx checksum offload off) as a port of
   * the bridge, for a VM's NIC to open, and resolves with its name and ofport.
   * The address and MAC of the spec are the VM's to take: nothing on the host
   * has them. All or nothing; `unplug` removes it.
   */
  plugTap(spec: GuestPortSpec): Promise<TapPort>;
  /**
   * Removes the port, the veth or tap and the namespace of the instance,
   * whichever exist: idempotent, and complete after a half-done plug. The veth is deleted
   * explicitly: a namespace a process still holds outlives `ip netns del`, and so
   * would its veth. A process still running in the namespace keeps running, cut off.
   */
  unplug(instanceId: string): Promise<void>;
  /** The names an instance's plug uses on this host (pure). */
  names(instanceId: string): GuestPortNames;
  /** The command line running `argv` in the instance's namespace (`ip netns exec`; see netnsCommand). */
  command(instanceId: string, argv: readonly string[]): Argv;
}

export function openGuestPorts(options: GuestPortsOptions): GuestPorts {
  const scope = options.scope ?? "";
  const ipPath = options.ip ?? DEFAULT_IP;
  const ethtoolPath = options.ethtool ?? DEFAULT_ETHTOOL;
  const ip = (args: string[], input?: string) => runIpTool(options, { file: ipPath, args }, input);
  const vsctl = (...args: string[]) => runTool(options, "ovs-vsctl", args);
  const names = (instanceId: string) => guestPortNames(scope, instanceId);

  /** Ignores only "it is not there"; any other failure is the caller's. */
  const absentOk = (pattern: RegExp) => (error: unknown) => {
    if (error instanceof FroctalError && error.code === "FROCTAL_E_CONFIG" && pattern.test(error.sentence)) return;
    throw error;
  };
  const deletePort = async (host: string) => void (await vsctl("--if-exists", "del-port", host));
  const deleteLink = (host: string) => ip(["link", "delete", host]).then(() => {}, absentOk(/Cannot find device/));
  const deleteNamespace = (namespace: string) =>
    ip(["netns", "delete", namespace]).then(() => {}, absentOk(/No such file or directory/));

  async function plug(given: GuestPortSpec): Promise<GuestPort> {
    const spec = checkGuestPortSpec(given);
    const { namespace, hostInterface: host } = names(spec.instanceId);
    const who = `instance ${spec.instanceId}`;
    const undo: Array<() => Promise<void>> = [];
    try {
      // First, and atomic: creating the namespace is what refuses a second plug of the instance.
      await ip(["netns", "add", namespace]).catch((error: unknown) => {
        if (error instanceof FroctalError && /File exists/.test(error.sentence)) {
          throw pluggedAlready(`${who} is plugged already (namespace ${namespace}): unplug it first`);
        }
        throw error;
      });
      undo.push(() => deleteNamespace(namespace));
      // One netlink request: the host end up, the guest end made inside the namespace (never in the host's).
      const mac = spec.mac === undefined ? [] : ["address", spec.mac];
      await ip([
        "link",
        "add",
        host,
        "up",
        "type",
        "veth",
        "peer",
        "name",
        GUEST_INTERFACE,
        ...mac,
        "netns",
        namespace,
      ]);
      undo.push(() => deleteLink(host));
      await ip(
        ["-n", namespace, "-batch", "-"],
        `address add ${spec.address} dev ${GUEST_INTERFACE}\nlink set ${GUEST_INTERFACE} up\nlink set lo up\n`,
      );
      await runIpTool(options, { file: ethtoolPath, args: ["-K", host, "tx", "off"] });
      await runIpTool(options, netnsCommand(namespace, [ethtoolPath, "-K", GUEST_INTERFACE, "tx", "off"], ipPath));
      const ofport = await addPort(spec, host, undo);
      const [link] = JSON.parse(await ip(["-n", namespace, "-json", "link", "show", GUEST_INTERFACE])) as [
        { address?: string }?,
      ];
      return {
        instanceId: spec.instanceId,
        bridge: spec.bridge,
        namespace,
        hostInterface: host,
        guestInterface: GUEST_INTERFACE,
        ofport,
        address: spec.address,
        mac: link?.address ?? "",
      };
    } catch (error) {
      throw await undone(error, undo.reverse());
    }
  }

  /**
   * The host's interface as a port of the bridge, with its external_ids in the
   * same transaction (a port on the bridge is always one that can be found
   * again), checked up; resolves with its ofport.
   */
  async function addPort(spec: GuestPortSpec, host: string, undo: Array<() => Promise<void>>): Promise<number> {
    const ids = Object.entries(spec.externalIds ?? {}).map(
      ([key, value]) => `external_ids:${key}=${JSON.stringify(value)}`,
    );
    const tagged = ids.length === 0 ? [] : ["--", "set", "Interface", host, ...ids];
    await vsctl("add-port", spec.bridge, host, ...tagged).catch((error: unknown) => {
      // A refusal commits nothing (and may name another plug's port); anything else may have left the record.
      if (!(error instanceof FroctalError && error.code === "FROCTAL_E_CONFIG")) undo.push(() => deletePort(host));
      throw error;
    });
    undo.push(() => deletePort(host));
    const [ofport = "", error = ""] = (await vsctl("get", "Interface", host, "ofport", "error")).trim().split("\n");
    if (!/^[1-9]\d*$/.test(ofport.trim()) || error.trim() !== "[]") {
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `instance ${spec.instanceId}: port ${host} did not come up on bridge ${spec.bridge}: ofport ${ofport.trim()}, error ${error.trim()}`,
      );
    }
    return Number(ofport);
  }

  async function plugTap(given: GuestPortSpec): Promise<TapPort> {
    const spec = checkGuestPortSpec(given);
    const { hostInterface: tap } = names(spec.instanceId);
    const undo: Array<() => Promise<void>> = [];
    try {
      await ip(["tuntap", "add", "dev", tap, "mode", "tap"]).catch((error: unknown) => {
        if (error instanceof FroctalError && /busy|exists/i.test(error.sentence)) {
          throw pluggedAlready(`instance ${spec.instanceId} is plugged already (tap ${tap}): unplug it first`);
        }
        throw error;
      });
      undo.push(() => deleteLink(tap));
      await ip(["link", "set", "dev", tap, "up"]);
      await runIpTool(options, { file: ethtoolPath, args: ["-K", tap, "tx", "off"] });
      const ofport = await addPort(spec, tap, undo);
      return { instanceId: spec.instanceId, bridge: spec.bridge, tap, ofport };
    } catch (error) {
      throw await undone(error, undo.reverse());
    }
  }

  async function unplug(instanceId: string): Promise<void> {
    const { namespace, hostInterface: host } = names(instanceId);
    // Every step is tried, whatever the one before did: an unreachable ovsdb-server must not keep the veth.
    const failures = await attempt([() => deletePort(host), () => deleteLink(host), () => deleteNamespace(namespace)]);
    const [first] = failures;
    if (first !== undefined) throw first;
  }

  return {
    plug,
    plugTap,
    unplug,
    names,
    command: (instanceId, argv) => netnsCommand(names(instanceId).namespace, argv, ipPath),
  };
}

const PLUGGED_ALREADY = Symbol("plugged already");

function pluggedAlready(sentence: string): FroctalError {
  return new FroctalError("FROCTAL_E_CONFIG", sentence, { cause: PLUGGED_ALREADY });
}

/** Whether `error` is a plug's refusal of an instance whose namespace or tap exists already. */
export function isPluggedAlready(error: unknown): error is FroctalError {
  return error instanceof FroctalError && error.cause === PLUGGED_ALREADY;
}

async function attempt(steps: ReadonlyArray<() => Promise<void>>): Promise<unknown[]> {
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((error: unknown) => failures.push(error));
  return failures;
}

/** The plug's failure, after undoing what it made; if undoing failed too, the sentence says what may be left. */
async function undone(error: unknown, undo: ReadonlyArray<() => Promise<void>>): Promise<unknown> {
  const failures = await attempt(undo);
  if (failures.length === 0 || !(error instanceof FroctalError)) return error;
  const why = failures.map((failure) => (failure instanceof FroctalError ? failure.sentence : String(failure)));
  return new FroctalError(error.code, `${error.sentence}; cleaning up failed too, unplug it again: ${why.join("; ")}`, {
    cause: error,
    retryable: error.retryable,
  });
}
