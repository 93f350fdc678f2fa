/**
 * A host vouching for a guest: the guest's channel (a virtio-serial socket on
 * that host) is relayed to the manager's /agent endpoint over a WebSocket
 * whose request names the host, its credential and the instance. The manager
 * lets it speak for that instance without a token, as it lets a local
 * channel, only if the credential is the host's and the instance is placed on
 * that very host: a host vouches for its own guests and no one else's.
 */
import type { IncomingMessage } from "node:http";
import { FroctalError } from "@froctal/primitives";
import { VOUCH_HEADERS } from "@froctal/protocol";
import { checkCredential } from "./credential.js";
import type { HostsDriver } from "./hosts-driver.js";

/** Checks an /agent upgrade request: undefined when it claims no vouching, else the instance or the refusal (counted). */
export function vouchFor(
  hosts: HostsDriver,
  hostSecret: string,
): (req: IncomingMessage) => { readonly instanceId: string } | FroctalError | undefined {
  return (req) => {
    const [hostId, credential, instanceId] = [VOUCH_HEADERS.host, VOUCH_HEADERS.credential, VOUCH_HEADERS.instance].map(
      (name) => req.headers[name],
    );
    if (hostId === undefined && credential === undefined && instanceId === undefined) return undefined;
    const refuse = (reason: string) => {
      hosts.reject("FROCTAL_E_AUTH", reason);
      return new FroctalError("FROCTAL_E_AUTH", reason);
    };
    if (typeof hostId !== "string" || typeof credential !== "string" || typeof instanceId !== "string") {
      return refuse(`a vouched connection names its host, the host's credential and the instance, each once`);
    }
    if (!checkCredential(hostSecret, hosts.identity.id, hostId, credential)) {
      return refuse(`the credential presented for host ${hostId} is not this fleet's for that id`);
    }
    const placed = hosts.hostOf(instanceId);
    if (placed !== hostId) {
      return refuse(
        placed === undefined
          ? `host ${hostId} cannot vouch for ${instanceId}: it is placed on no host`
          : `host ${hostId} cannot vouch for ${instanceId}: it is placed on host ${placed}`,
      );
    }
    return { instanceId };
  };
}
