/**
 * The bridge: one connection per guest channel socket (libvirt exposes each
 * domain's virtio-serial port as a unix socket; a Xen vchan is the same
 * byte-stream shape), each served by the manager's stream endpoint with the
 * channel's instance as its identity, so no token travels. Level-triggered:
 * sync() is told which channels should exist and opens, keeps or closes
 * connections to match; a connection that drops (guest reboot, QEMU restart)
 * is reopened with capped, jittered backoff for as long as its channel is
 * wanted. One socket per instance: two guests' streams cannot mix.
 */
import { connect, type Socket } from "node:net";
import { type Clock, type Disposer, systemClock } from "@froctal/primitives";

export interface ChannelSocket {
  readonly instanceId: string;
  /** The host side of the guest's channel (a unix socket QEMU listens on). */
  readonly path: string;
}

/** The part of @froctal/server's AgentServer the bridge needs. */
export interface StreamEndpoint {
  serveStream(stream: Socket, channel: { readonly instanceId?: string; readonly peer: string }): Disposer;
}

export interface BridgeOptions {
  readonly server: StreamEndpoint;
  readonly clock?: Clock;
  /** First reconnect delay, ms (doubles, with jitter, up to maxBackoffMs). */
  readonly backoffMs?: number;
  readonly maxBackoffMs?: number;
  readonly random?: () => number;
}

export interface BridgeStats {
  connects: number;
  drops: number;
  reconnects: number;
}

/** One channel's connection, relayed into the server while the channel is wanted. */
interface Relay {
  readonly channel: ChannelSocket;
  socket: Socket | undefined;
  serving: Disposer | undefined;
  retry: Disposer | undefined;
  failures: number;
  wanted: boolean;
}

export class Bridge {
  private readonly relays = new Map<string, Relay>();
  private readonly clock: Clock;
  readonly stats: BridgeStats = { connects: 0, drops: 0, reconnects: 0 };
  private closed = false;

  constructor(private readonly options: BridgeOptions) {
    this.clock = options.clock ?? systemClock;
  }

  /** Makes the set of bridged channels equal `channels` (keyed by instance). */
  sync(channels: readonly ChannelSocket[]): void {
    if (this.closed) return;
    const want = new Map(channels.map((c) => [c.instanceId, c]));
    for (const [id, relay] of this.relays) {
      const next = want.get(id);
      if (next === undefined || next.path !== relay.channel.path) this.drop(relay);
    }
    for (const channel of want.values()) {
      if (!this.relays.has(channel.instanceId))
        this.open({ channel, socket: undefined, serving: undefined, retry: undefined, failures: 0, wanted: true });
    }
  }

  /** Instances with an open connection right now. */
  get connected(): string[] {
    return [...this.relays.values()].filter((l) => l.serving !== undefined).map((l) => l.channel.instanceId);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const relay of [...this.relays.values()]) this.drop(relay);
  }

  private open(relay: Relay): void {
    this.relays.set(relay.channel.instanceId, relay);
    const socket = connect(relay.channel.path);
    relay.socket = socket;
    socket.once("connect", () => {
      if (!relay.wanted) return;
      this.stats.connects++;
      relay.failures = 0;
      relay.serving = this.options.server.serveStream(socket, {
        instanceId: relay.channel.instanceId,
        peer: `channel ${relay.channel.instanceId} ${relay.channel.path}`,
      });
    });
    // Errors before connect (no socket yet: the domain is still starting) and drops both end in close.
    socket.on("error", () => {});
    socket.once("close", () => {
      relay.serving = undefined;
      relay.socket = undefined;
      if (!relay.wanted || this.closed) return;
      this.stats.drops++;
      this.scheduleReconnect(relay);
    });
  }

  private scheduleReconnect(relay: Relay): void {
    const base = this.options.backoffMs ?? 100;
    const cap = this.options.maxBackoffMs ?? 5_000;
    const ceiling = Math.min(cap, base * 2 ** relay.failures);
    relay.failures = Math.min(relay.failures + 1, 30);
    const delay = ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2);
    relay.retry = this.clock.setTimeout(() => {
      relay.retry = undefined;
      if (!relay.wanted || this.closed) return;
      this.stats.reconnects++;
      this.open(relay);
    }, delay);
  }

  private drop(relay: Relay): void {
    relay.wanted = false;
    relay.retry?.();
    relay.retry = undefined;
    relay.serving?.();
    relay.serving = undefined;
    relay.socket?.destroy();
    relay.socket = undefined;
    this.relays.delete(relay.channel.instanceId);
  }
}
