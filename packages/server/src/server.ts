/**
 * The agent server: owns the connections of every transport, the one-session-
 * per-instance rule, the counters, and the single close() that releases it all.
 */
import { randomBytes } from "node:crypto";
import type { Server as HttpServer } from "node:http";
import type { Duplex } from "node:stream";
import type { AgentSession, Channel } from "@froctal/manager";
import type { Disposer } from "@froctal/primitives";
import { Disposables } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import { Connection, type ConnectionHost, type TransportHost } from "./connection.js";
import { type AgentServerOptions, resolveOptions } from "./options.js";
import { createStats, type ServerStats } from "./stats.js";
import { listenUnix, serveStream } from "./stream.js";
import type { Endpoint, Transport } from "./transport.js";
import { attachWebSocket, listenWebSocket, type Vouch } from "./websocket.js";

export interface AgentServer {
  /** Live counters; read them, do not write them. */
  readonly stats: Readonly<ServerStats>;
  /** The open session of an instance, if it has one. */
  session(instanceId: string): AgentSession | undefined;
  /**
   * Serves agents on `http`'s WebSocket upgrades for `path` (default "/agent");
   * with `vouch`, a request a host vouches for speaks for that instance with no
   * token, as a channel does (websocket.ts). The disposer stops that.
   */
  attachWebSocket(http: HttpServer, options?: { path?: string; vouch?: Vouch }): Disposer;
  /** Opens an HTTP server of its own for agents' WebSockets (default 127.0.0.1, a free port, "/agent"). */
  listenWebSocket(options?: { host?: string; port?: number; path?: string }): Promise<Endpoint>;
  /** Listens for length-delimited frames on a unix socket. */
  listenUnix(path: string): Promise<Endpoint>;
  /**
   * Serves one byte stream of length-delimited frames. Set channel.instanceId
   * when the stream is the instance's own (a per-domain virtio-serial socket):
   * the hello must then name that instance and needs no token. After close(),
   * the stream is destroyed. The disposer shuts this connection down.
   */
  serveStream(stream: Duplex, channel: Channel): Disposer;
  /**
   * Stops accepting, tells every agent to come back later (Refuse
   * FROCTAL_E_CLOSED, retryable), and resolves when every connection and
   * listener is closed and every timer released: at once for peers that
   * answer, after closeGraceMs for those that do not.
   */
  close(): Promise<void>;
}

export function createAgentServer(options: AgentServerOptions): AgentServer {
  const resolved = resolveOptions(options);
  const stats = createStats();
  const connections = new Set<Connection>();
  const sessions = new Map<string, Connection>();
  /** Listeners and attachments, released first on close(). */
  const accepting = new Disposables();
  /** Listeners' full stops, awaited last on close(). */
  const finishing: Promise<void>[] = [];
  const serverId = randomBytes(3).toString("hex");
  let sessionCount = 0;
  let closing: Promise<void> | undefined;

  const host: ConnectionHost & TransportHost = {
    options: resolved,
    stats,
    maxFrameBytes: resolved.limits.maxFrameBytes,
    newSessionId: () => `${serverId}-${(++sessionCount).toString(36)}`,
    claim(instanceId, conn) {
      const previous = sessions.get(instanceId);
      if (previous && previous !== conn) {
        previous.refuse(
          new FroctalError("FROCTAL_E_SESSION_REPLACED", `instance ${instanceId} opened a new session elsewhere`),
        );
      }
      sessions.set(instanceId, conn);
      stats.sessions = sessions.size;
    },
    release(instanceId, conn) {
      if (sessions.get(instanceId) !== conn) return;
      sessions.delete(instanceId);
      stats.sessions = sessions.size;
    },
    connect(transport: Transport) {
      if (closing) {
        transport.destroy();
        return undefined;
      }
      const conn = new Connection(host, transport);
      connections.add(conn);
      stats.connections = connections.size;
      return conn;
    },
    forget(conn) {
      connections.delete(conn);
      stats.connections = connections.size;
    },
  };

  function open(): void {
    if (closing) throw new FroctalError("FROCTAL_E_CLOSED", "the agent server is closed");
  }

  function keep(endpoint: Endpoint & { readonly finished: Promise<void> }): Endpoint {
    const release = accepting.add(() => endpoint.close());
    finishing.push(endpoint.finished);
    return { address: endpoint.address, close: release };
  }

  return {
    stats,
    session(instanceId) {
      return sessions.get(instanceId)?.agentSession;
    },
    attachWebSocket(http, opts) {
      open();
      return accepting.add(attachWebSocket(host, http, opts?.path ?? "/agent", opts?.vouch));
    },
    async listenWebSocket(opts = {}) {
      open();
      return keep(await listenWebSocket(host, opts));
    },
    async listenUnix(path) {
      open();
      return keep(await listenUnix(host, path));
    },
    serveStream(stream, channel) {
      return serveStream(host, stream, channel);
    },
    close() {
      closing ??= (async () => {
        accepting.dispose();
        const live = [...connections];
        for (const conn of live) conn.shutdown();
        await Promise.all(live.map((conn) => conn.closed));
        await Promise.all(finishing);
      })();
      return closing;
    },
  };
}
