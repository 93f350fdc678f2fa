/**
 * @froctal/driver-libvirt: the libvirt Driver; guests are transient domains on
 * one host or several, made from per-service templates, owned through
 * froctal metadata in their XML.
 *
 *   libvirt-driver.ts  createLibvirtDriver: the Driver port, placement, adoption, events
 *   site.ts            one host's listing, and what it says about each instance
 *   host.ts            one host's connection: gated and timed calls, reconnects with backoff
 *   shutdown.ts        the stop sequence: shutdown, grace period, destroy
 *   lanes.ts           one start or stop at a time per instance
 *   template.ts        domain templates: placeholders, metadata injection, checks (pure)
 *   ownership.ts       the froctal <metadata> element, written and read back (pure)
 *   identity.ts        domain names and UUIDs derived from (fleet, instance id)
 *   placement.ts       spread across hosts within capacity (pure)
 *   errors.ts          the one classification of libvirt failures into FroctalErrors
 *   gate.ts            the bound on libvirt calls in flight (threadpool)
 *   virsh.ts           device attach and detach through virsh
 *   instance.ts        tracked instances, libvirt states in the port's words
 *   xml.ts             a small XML reader for what libvirt writes
 *   connection.ts      the connection port over @unraid/libvirt's Hypervisor
 */
export type { ConnectionFactory, LibvirtConnection } from "./connection.js";
export { hypervisorConnection } from "./connection.js";
export { classifyLibvirtMessage, LibvirtCallError, type LibvirtFailure } from "./errors.js";
export type { LibvirtObservedInstance } from "./instance.js";
export { createLibvirtDriver, type LibvirtDriver } from "./libvirt-driver.js";
export { DEFAULT_MAX_IN_FLIGHT, type LibvirtDriverOptions } from "./options.js";
export { FROCTAL_NS, type Ownership } from "./ownership.js";
export type { Overcommit } from "./placement.js";
export type { DomainTemplate } from "./template.js";
export { attachDevice, type DeviceChange, detachDevice } from "./virsh.js";
