/**
 * The hosts' door on the manager's HTTP port: WebSocket upgrades at /host.
 * A connection's first frame must be a hello with a shared protocol version
 * and the host's credential; then the host is joined to the HostsDriver and
 * its frames (outcomes, events, inventories) are handed on. Anything refused
 * is a Refuse frame and a close (1008 never retry, 1013 retry later), counted
 * by code in the driver's stats; ws itself closes a message over the frame
 * limit (1009) before reading it.
 */
import { randomUUID } from "node:crypto";
import type { Server as HttpServer, IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { FleetIdentity, ObservedInstance } from "@froctal/manager";
import { type Clock, type Disposer, type ErrorCode, FroctalError } from "@froctal/primitives";
import {
  type CheckedHostFrame,
  DEFAULT_LIMITS,
  decodeHostFrame,
  encodeHostControl,
  type HostControl,
  type Limits,
  negotiateVersion,
} from "@froctal/protocol";
import { type RawData, type WebSocket, WebSocketServer } from "ws";
import { checkCredential } from "./credential.js";
import type { Host, HostLink } from "./host.js";
import type { HostsDriver } from "./hosts-driver.js";
import { actionFrame, driverEventOf, observedOf } from "./wire.js";

export interface HostsEndpointOptions {
  /** The fleet's host secret (FleetState.hostSecret): credentials are checked against it. */
  readonly hostSecret: string;
  readonly clock: Clock;
  readonly path?: string;
  readonly limits?: Limits;
  /** A host must say hello within this long, ms. Default 5000. */
  readonly helloTimeoutMs?: number;
  /** How often the manager pings a host; two pings unanswered end the connection. Default 1000 ms. */
  readonly heartbeatMs?: number;
}

const CLOSE: Record<"refused" | "retry-later", number> = { refused: 1008, "retry-later": 1013 };

/** Serves hosts on `http`'s upgrade requests for `path` (default /host); the disposer stops that and closes every host connection. */
export function attachHostsEndpoint(http: HttpServer, hosts: HostsDriver, options: HostsEndpointOptions): Disposer {
  const path = options.path ?? "/host";
  const limits = options.limits ?? DEFAULT_LIMITS;
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: true,
  });
  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (new URL(req.url ?? "/", "http://localhost").pathname !== path) return;
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, hosts, options, limits));
  };
  http.on("upgrade", onUpgrade);
  return () => {
    http.off("upgrade", onUpgrade);
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  };
}

function serve(ws: WebSocket, hosts: HostsDriver, options: HostsEndpointOptions, limits: Limits): void {
  const { clock } = options;
  let host: Host | undefined;
  let link: HostLink | undefined;
  let nextRequest = 1;
  const lists = new Map<
    number,
    { readonly resolve: (guests: readonly ObservedInstance[]) => void; readonly reject: (error: FroctalError) => void }
  >();
  const refuse = (code: ErrorCode, reason: string, end: "refused" | "retry-later" = "refused") => {
    hosts.reject(code, reason);
    send({
      refuse: { code, reason, retryable: end === "retry-later", retryAfterMs: end === "retry-later" ? 1000 : 0 },
    });
    ws.close(CLOSE[end], code);
  };
  const send = (frame: HostControl) => {
    if (ws.readyState === ws.OPEN) ws.send(encodeHostControl(frame));
  };
  const cancelHello = clock.setTimeout(
    () => refuse("FROCTAL_E_HELLO_TIMEOUT", "no hello in time", "retry-later"),
    options.helloTimeoutMs ?? 5000,
  );
  // Liveness: a host that answers no ping for two beats is gone, even if TCP has not noticed.
  let alive = true;
  let cancelBeat: Disposer = () => {};
  const beat = () => {
    if (!alive) {
      ws.terminate();
      return;
    }
    alive = false;
    ws.ping();
    cancelBeat = clock.setTimeout(beat, options.heartbeatMs ?? 1000);
  };
  ws.on("pong", () => {
    alive = true;
  });
  ws.on("error", () => {});
  ws.on("close", () => {
    cancelHello();
    cancelBeat();
    const left = new FroctalError("FROCTAL_E_HOST_LOST", `host ${host?.id ?? "?"} left before it listed its guests`);
    for (const { reject } of lists.values()) reject(left);
    lists.clear();
    if (host !== undefined && link !== undefined) hosts.leave(host, link);
  });
  ws.on("message", (data: RawData, isBinary: boolean) => {
    let frame: CheckedHostFrame;
    try {
      if (!isBinary) throw new FroctalError("FROCTAL_E_FRAME_MALFORMED", "a host frame is a binary message, not text");
      frame = decodeHostFrame(toBytes(data), limits);
    } catch (error) {
      const e = error instanceof FroctalError ? error : new FroctalError("FROCTAL_E_FRAME_MALFORMED", String(error));
      refuse(e.code, e.sentence);
      return;
    }
    if (host === undefined) {
      if (frame.frame !== "hello") {
        refuse("FROCTAL_E_FRAME_UNEXPECTED", `the first frame must be a hello, not ${frame.frame}`);
        return;
      }
      cancelHello();
      const { hello } = frame;
      let version: number;
      try {
        version = negotiateVersion(hello);
      } catch (error) {
        refuse("FROCTAL_E_VERSION", (error as FroctalError).sentence);
        return;
      }
      const { id } = hosts.identity;
      if (!checkCredential(options.hostSecret, id, hello.hostId, hello.credential)) {
        refuse("FROCTAL_E_AUTH", `the credential presented for host ${hello.hostId} is not this fleet's for that id`);
        return;
      }
      const fleet: FleetIdentity = hosts.identity;
      link = {
        send: (action) => send({ action: actionFrame(action) }),
        inventory: (asked) =>
          new Promise((resolve, reject) => {
            if (ws.readyState !== ws.OPEN) {
              reject(new FroctalError("FROCTAL_E_HOST_LOST", `host ${hello.hostId} is not connected`));
              return;
            }
            const requestId = nextRequest++;
            lists.set(requestId, { resolve, reject });
            send({ list: { requestId, fleet: asked.name, fleetId: asked.id } });
          }),
        close: () => ws.close(1001, "FROCTAL_E_SESSION_REPLACED"),
      };
      send({
        welcome: {
          version,
          sessionId: randomUUID(),
          fleet: fleet.name,
          fleetId: fleet.id,
          maxFrameBytes: limits.maxFrameBytes,
        },
      });
      const { cpus, memoryBytes } = hello.capacity;
      const { features, drivers, network } = hello;
      host = hosts.join(hello.hostId, { cpus, memoryBytes, features, drivers, network }, link);
      beat();
      return;
    }
    switch (frame.frame) {
      case "hello":
        refuse("FROCTAL_E_FRAME_UNEXPECTED", "a second hello on one connection");
        return;
      case "outcome": {
        const { key, ok, code, reason } = frame.outcome;
        // An answer to a key not in flight is a repeat (the host answers a key again after a reconnect): ignored.
        host.settle(key, ok ? undefined : new FroctalError(code as ErrorCode, reason));
        return;
      }
      case "event":
        hosts.event(host, driverEventOf(frame.event));
        return;
      case "inventory": {
        const guests = frame.inventory.guests.map(observedOf);
        if (frame.inventory.requestId === 0) {
          hosts.inventory(host, guests);
          return;
        }
        const answer = lists.get(frame.inventory.requestId);
        lists.delete(frame.inventory.requestId);
        answer?.resolve(guests);
        return;
      }
    }
  });
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
