/**
 * Where the manager is. FROCTAL_MANAGER_URL (or options.url) takes one of:
 *   ws://host:port/path, wss://...   a WebSocket, one frame per binary message
 *   unix:/run/froctal.sock           a unix socket carrying length-delimited frames
 *   /dev/virtio-ports/NAME           any absolute path: a character device (virtio-serial,
 *                                    vchan) opened read/write, or a unix socket if the path is one
 */
import { FroctalError } from "@froctal/protocol";

export type Target =
  | { readonly kind: "websocket"; readonly url: string }
  | { readonly kind: "unix"; readonly path: string }
  | { readonly kind: "path"; readonly path: string };

/** Parses a manager address; `source` names where it came from, for the error. */
export function parseTarget(value: string, source: string): Target {
  const bad = (why: string) =>
    new FroctalError(
      "FROCTAL_E_CONFIG",
      `${source} is not a manager address (${why}): ${JSON.stringify(value)}; use ws://host:port/path, unix:/path/to.sock or a device path such as /dev/virtio-ports/froctal`,
    );
  if (/^wss?:\/\//i.test(value)) {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw bad("the URL does not parse");
    }
    if (!url.hostname) throw bad("the URL has no host");
    return { kind: "websocket", url: url.href };
  }
  if (value.startsWith("unix:")) {
    const path = value.slice("unix:".length).replace(/^\/\/(?=\/)/, "");
    if (!path) throw bad("the socket path is empty");
    return { kind: "unix", path };
  }
  if (value.startsWith("/")) return { kind: "path", path: value };
  throw bad("unknown scheme");
}

/** A short description for logs and error sentences. */
export function describeTarget(target: Target): string {
  return target.kind === "websocket" ? target.url : `${target.kind === "unix" ? "unix:" : ""}${target.path}`;
}
