/**
 * Where the manager is. FROCTAL_MANAGER_URL (or options.url) takes one of:
 *   ws://host:port/path, wss://...   a WebSocket, one frame per binary message
 *   unix:/run/froctal.sock           a unix socket carrying length-delimited frames
 *   /dev/virtio-ports/NAME           any absolute path: a character device (virtio-serial,
 *                                    vchan) opened read/write, or a unix socket if the path is one
 * or several WebSocket addresses, comma-separated (ws://m1:7070/agent,ws://m2:7070/agent): every
 * manager of a fleet with standbys. Only the leader has a port open, so the agent follows it by
 * trying the next address whenever one fails (session/link.ts). A channel belongs to one guest and
 * leads to one place, so a list of them means nothing and is refused.
 */
import { parseList } from "@froctal/primitives";
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

/**
 * Parses one manager address, or a list (a comma-separated string or an array) of
 * WebSocket addresses, in the order the agent tries them.
 */
export function parseTargets(value: string | readonly string[], source: string): readonly Target[] {
  const entries = typeof value === "string" ? value.split(",") : value;
  if (entries.length === 1) return [parseTarget(entries[0] ?? "", source)];
  const bad = (why: string) =>
    new FroctalError(
      "FROCTAL_E_CONFIG",
      `${source} is not a list of manager addresses (${why}): ${JSON.stringify(value)}; use ws://host:port/path,ws://host2:port/path`,
    );
  return parseList(entries, {
    parse: (entry, which, i) => {
      const target = parseTarget(entry, `${source} entry ${i + 1}`);
      if (target.kind !== "websocket") throw bad(`${which} is a channel; only ws:// and wss:// addresses make a list`);
      return target;
    },
    key: describeTarget,
    bad,
  });
}

/** A short description for logs and error sentences. */
export function describeTarget(target: Target): string {
  return target.kind === "websocket" ? target.url : `${target.kind === "unix" ? "unix:" : ""}${target.path}`;
}

/** The same for a list: its addresses, comma-separated. */
export function describeTargets(targets: readonly Target[]): string {
  return targets.map(describeTarget).join(",");
}
