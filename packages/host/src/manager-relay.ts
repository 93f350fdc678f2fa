/**
 * A host's guests on a network of its own (network namespaces on the host's
 * bridge) have no route to the manager: the host listens on its address on
 * that network and relays each connection, byte for byte, to the manager its
 * own link is on. The guests' agents speak to the manager through it as they
 * would directly (their token, their WebSocket): the relay reads nothing.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

export interface ManagerRelayOptions {
  /** The address to listen on: the host's on its guests' network. */
  readonly host: string;
  /** The manager to relay to, read at each connection (the leader changes): ws://host:port/... */
  readonly manager: () => string;
  readonly log?: (message: string) => void;
}

export interface ManagerRelay {
  /** ws://HOST:PORT/agent: what the guests are given as FROCTAL_MANAGER_URL. */
  readonly agentUrl: string;
  /** Connections relayed so far. */
  readonly relayed: number;
  /** Stops listening and ends every relayed connection. */
  close(): Promise<void>;
}

export async function openManagerRelay(options: ManagerRelayOptions): Promise<ManagerRelay> {
  const open = new Set<Socket>();
  let relayed = 0;
  const server: Server = createServer((guest) => {
    const target = new URL(options.manager());
    const port = Number(target.port || (target.protocol === "wss:" ? 443 : 80));
    const manager = connect(port, target.hostname);
    relayed++;
    for (const socket of [guest, manager]) {
      open.add(socket);
      socket.on("close", () => open.delete(socket));
    }
    const end = (why: Error) => {
      options.log?.(`relaying a guest's connection to ${target.host} ended: ${why.message}`);
      guest.destroy();
      manager.destroy();
    };
    guest.on("error", end);
    manager.on("error", end);
    guest.pipe(manager);
    manager.pipe(guest);
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === "object" && address !== null ? address.port : 0;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    agentUrl: `ws://${host}:${port}/agent`,
    get relayed() {
      return relayed;
    },
    close() {
      for (const socket of open) socket.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
