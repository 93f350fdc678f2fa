import type { Clock, NicNetwork } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { type ConnectionFactory, hypervisorConnection } from "./connection.js";
import { CallGate } from "./gate.js";
import type { Overcommit } from "./placement.js";
import { checkTemplate, type DomainTemplate } from "./template.js";

export interface LibvirtDriverOptions {
  /**
   * The hosts, as libvirt URIs (`qemu:///system`, `qemu+ssh://host/system`,
   * `test:///default`). Instances are spread across them; ties go to the
   * host listed first.
   */
  readonly uris: readonly string[];
  /** Domain templates by image name: a LaunchSpec's `image` picks one. */
  readonly templates: Readonly<Record<string, DomainTemplate>>;
  /** Where `{{channelPath}}` puts each guest's channel socket: `<channelDir>/<domain name>.sock`. Default /run/froctal/channels. */
  readonly channelDir?: string;
  /** Poll timers, stop grace periods and call timeouts. Default: the real clock. */
  readonly clock?: Clock;
  /** How often every host is listed to observe lifecycle changes, ms. Default 1000. */
  readonly pollMs?: number;
  /** Longest wait for one libvirt call (queueing for the gate included), ms. Default 15000. */
  readonly callTimeoutMs?: number;
  /**
   * Most libvirt calls under way at once. Default: a gate of 3 shared by
   * every driver in the process, since the threadpool (4 threads) is the
   * process's. Giving a number makes this driver a private gate of that size.
   */
  readonly maxInFlight?: number;
  /** How far guests may exceed a host's memory and CPUs. Default: memory 1 (never), vCPUs 4. */
  readonly overcommit?: Partial<Overcommit>;
  /** The virsh binary for device attach and detach. Default "virsh" (on PATH). */
  readonly virsh?: string;
  /** Longest a virsh run may take, ms. Default 30000. */
  readonly virshTimeoutMs?: number;
  /** Opens libvirt connections. Default: @unraid/libvirt's Hypervisor. Tests wrap it. */
  readonly connect?: ConnectionFactory;
  /** Hears each failed listing of a host (the poll carries on). Default: nothing. */
  readonly onPollError?: (uri: string, error: FroctalError) => void;
  /**
   * The network's NICs (`froctal up --network`): each new domain gets one,
   * made before it is created and removed once it is gone (see nic.ts). Every
   * template must then have a `<devices>`. Default: domains get only the NICs
   * their template gives them.
   */
  readonly nics?: NicNetwork;
}

export interface Settings {
  readonly uris: readonly string[];
  readonly templates: ReadonlyMap<string, DomainTemplate>;
  readonly channelDir: string;
  readonly clock: Clock;
  readonly pollMs: number;
  readonly callTimeoutMs: number;
  readonly gate: CallGate;
  readonly overcommit: Overcommit;
  readonly virsh: string;
  readonly virshTimeoutMs: number;
  readonly connect: ConnectionFactory;
  readonly onPollError: ((uri: string, error: FroctalError) => void) | undefined;
  readonly nics: NicNetwork | undefined;
}

/** Below the threadpool's 4, so fs, dns and crypto always keep a thread. */
export const DEFAULT_MAX_IN_FLIGHT = 3;

const sharedGate = new CallGate(DEFAULT_MAX_IN_FLIGHT);

/** Fills in defaults and refuses what would misbehave later, templates included. */
export function settingsFrom(options: LibvirtDriverOptions): Settings {
  const uris = [...options.uris];
  if (uris.length === 0) throw new FroctalError("FROCTAL_E_CONFIG", "the libvirt driver needs at least one URI");
  for (const uri of uris) {
    if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(uri)) {
      throw new FroctalError("FROCTAL_E_CONFIG", `"${uri}" is not a libvirt URI (driver[+transport]://[host]/path)`);
    }
  }
  if (new Set(uris).size !== uris.length) throw new FroctalError("FROCTAL_E_CONFIG", "a libvirt URI is listed twice");
  const templates = new Map(Object.entries(options.templates));
  if (templates.size === 0)
    throw new FroctalError("FROCTAL_E_CONFIG", "the libvirt driver needs at least one template");
  for (const [image, template] of templates) {
    checkTemplate(image, template);
    if (options.nics !== undefined && !template.xml.includes("</devices>")) {
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        `the domain template "${image}" has no <devices> to put the guest's NIC in, and the driver was given a network`,
      );
    }
  }
  const maxInFlight = options.maxInFlight;
  return {
    uris,
    templates,
    channelDir: (options.channelDir ?? "/run/froctal/channels").replace(/\/+$/, ""),
    clock: options.clock ?? systemClock,
    pollMs: positive("pollMs", options.pollMs ?? 1000),
    callTimeoutMs: positive("callTimeoutMs", options.callTimeoutMs ?? 15_000),
    gate: maxInFlight === undefined ? sharedGate : new CallGate(positiveInteger("maxInFlight", maxInFlight)),
    overcommit: {
      memory: positive("overcommit.memory", options.overcommit?.memory ?? 1),
      cpus: positive("overcommit.cpus", options.overcommit?.cpus ?? 4),
    },
    virsh: options.virsh ?? "virsh",
    virshTimeoutMs: positive("virshTimeoutMs", options.virshTimeoutMs ?? 30_000),
    connect: options.connect ?? hypervisorConnection,
    onPollError: options.onPollError,
    nics: options.nics,
  };
}

export function gracePeriod(ms: number): number {
  if (Number.isFinite(ms) && ms >= 0) return ms;
  throw new FroctalError("FROCTAL_E_CONFIG", `graceMs must be a finite number of milliseconds >= 0, not ${ms}`);
}

function positive(name: string, value: number): number {
  if (Number.isFinite(value) && value > 0) return value;
  throw new FroctalError("FROCTAL_E_CONFIG", `${name} must be a finite number > 0, not ${value}`);
}

function positiveInteger(name: string, value: number): number {
  if (Number.isSafeInteger(value) && value > 0) return value;
  throw new FroctalError("FROCTAL_E_CONFIG", `${name} must be a positive integer, not ${value}`);
}
