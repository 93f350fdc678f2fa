import type { GuestNic, NicNetwork } from "@froctal/manager";
import { rethrowLater } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { failureOf } from "./errors.js";
import { escapeXml } from "./xml.js";

/**
 * A guest's NIC in its domain: the network made a tap on its bridge and chose
 * the MAC and address; the domain gets an `<interface type='ethernet'>` that
 * opens that tap as it is (`managed='no'`: libvirt neither makes nor plugs it,
 * so it never needs to reach the network's switch), and a directly booted
 * kernel gets `froctal.ip=ADDRESS/LENGTH` on its command line (the guest
 * image's /init gives it to the first NIC).
 *
 * Checksum offload is off both ways: on Open vSwitch's userspace datapath a
 * packet whose checksum is left to the NIC leaves the bridge with a wrong one.
 */
const OFFLOAD_OFF = "csum='off' tso4='off' tso6='off' ecn='off' ufo='off'";

/** Refuses a NIC no domain should be given (the network's answer is a boundary like any other). */
export function checkNic(instanceId: string, nic: GuestNic): GuestNic {
  const bad = (what: string) =>
    new FroctalError("FROCTAL_E_INTERNAL", `the network gave instance ${instanceId} a NIC with ${what}`);
  if (typeof nic?.tap !== "string" || !/^[A-Za-z0-9_.-]{1,15}$/.test(nic.tap)) {
    throw bad(`tap ${JSON.stringify(nic?.tap)}, not an interface name`);
  }
  if (typeof nic.mac !== "string" || !/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(nic.mac)) {
    throw bad(`MAC ${JSON.stringify(nic.mac)}`);
  }
  if (typeof nic.address !== "string" || !/^\d{1,3}(\.\d{1,3}){3}\/\d{1,2}$/.test(nic.address)) {
    throw bad(`address ${JSON.stringify(nic.address)}, not ADDRESS/LENGTH`);
  }
  return nic;
}

/**
 * The domain XML with the NIC in its `<devices>` (every template has one when
 * the driver has a network: settingsFrom checks) and its address on the
 * kernel's command line, if it has one.
 */
export function withNic(xml: string, nic: GuestNic | undefined): string {
  if (nic === undefined) return xml;
  const element =
    `<interface type='ethernet'><mac address='${escapeXml(nic.mac)}'/>` +
    `<target dev='${escapeXml(nic.tap)}' managed='no'/><model type='virtio'/>` +
    `<driver name='qemu'><host ${OFFLOAD_OFF} gso='off'/><guest ${OFFLOAD_OFF}/></driver></interface>`;
  const devices = xml.lastIndexOf("</devices>");
  const plugged = `${xml.slice(0, devices)}${element}${xml.slice(devices)}`;
  return plugged.replace(/<\/cmdline>/, ` froctal.ip=${escapeXml(nic.address)}</cmdline>`);
}

/** The driver's side of a NicNetwork: joins checked, leaves tracked so that close() can wait for them. */
export class Nics {
  readonly #network: NicNetwork | undefined;
  /** NICs being removed (their domains are gone). */
  readonly #leaving = new Set<Promise<void>>();

  constructor(network: NicNetwork | undefined) {
    this.#network = network;
  }

  get enabled(): boolean {
    return this.#network !== undefined;
  }

  /**
   * Runs `create` with a NIC made for the instance's new domain (undefined
   * without a network), and removes the NIC if `create` fails; but not after a
   * timeout, when the domain may exist and hold it: its end removes it then.
   */
  async plugged(instanceId: string, create: (nic: GuestNic | undefined) => Promise<void>): Promise<void> {
    const nic = await this.#join(instanceId);
    try {
      await create(nic);
    } catch (error) {
      if (nic !== undefined && failureOf(error) !== "stalled") this.leave(instanceId);
      throw error;
    }
  }

  /** A NIC on the network for the instance's new domain, checked; undefined without a network. */
  async #join(instanceId: string): Promise<GuestNic | undefined> {
    const network = this.#network;
    if (network === undefined) return undefined;
    let nic: GuestNic;
    try {
      nic = await network.join(instanceId);
    } catch (cause) {
      if (cause instanceof FroctalError) throw cause;
      throw new FroctalError(
        "FROCTAL_E_INTERNAL",
        `instance ${instanceId} was not started: its NIC could not be made (${String(cause)})`,
        { cause, retryable: true },
      );
    }
    try {
      return checkNic(instanceId, nic);
    } catch (error) {
      this.leave(instanceId);
      throw error;
    }
  }

  /** Removes the instance's NIC (its domain is gone, or was never made). A failure surfaces on its own. */
  leave(instanceId: string): void {
    const network = this.#network;
    if (network === undefined) return;
    const leaving = network.leave(instanceId).catch(rethrowLater);
    this.#leaving.add(leaving);
    void leaving.finally(() => this.#leaving.delete(leaving));
  }

  /** Resolves once every leave under way has ended. */
  async settled(): Promise<void> {
    await Promise.all(this.#leaving);
  }
}
