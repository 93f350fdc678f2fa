import { type Domain, Hypervisor } from "@unraid/libvirt";

/**
 * The part of the binding's Hypervisor the driver uses: the port tests wrap
 * to count calls, slow them down or cut the connection. Each call is one
 * libvirt call on the libuv threadpool.
 */
export type LibvirtConnection = Pick<
  Hypervisor,
  | "connectOpen"
  | "connectClose"
  | "connectListAllDomains"
  | "nodeGetInfo"
  | "domainCreateXML"
  | "domainLookupByUUIDString"
  | "domainGetUUIDString"
  | "domainGetInfo"
  | "domainGetXMLDesc"
  | "domainShutdown"
  | "domainDestroy"
>;

export type { Domain };

/** Makes an unopened connection to one URI; the driver calls connectOpen() and connectClose(). */
export type ConnectionFactory = (uri: string) => LibvirtConnection;

/** The real thing: @unraid/libvirt's Hypervisor. */
export const hypervisorConnection: ConnectionFactory = (uri) => new Hypervisor({ uri });
