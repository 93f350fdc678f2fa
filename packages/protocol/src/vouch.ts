/**
 * The request headers of a WebSocket to the manager's /agent endpoint that a
 * host opens for a guest's channel (a virtio-serial socket on that host): the
 * host's id, its credential, and the instance it vouches for. Part of the
 * contract, so both ends name them from here.
 */
export const VOUCH_HEADERS = {
  host: "x-froctal-host",
  credential: "x-froctal-host-credential",
  instance: "x-froctal-instance",
} as const;
