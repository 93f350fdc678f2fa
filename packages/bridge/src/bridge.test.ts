/**
 * The bridge against real parts: the real server (with its recording ingest),
 * the real agent, and a stand-in for QEMU that does what QEMU's virtio-serial
 * chardev does: listen on the host-side unix socket and relay bytes to and from
 * the guest's port (here another unix socket the agent opens as a byte stream).
 */
import { mkdtempSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Agent, connect as connectAgent } from "@froctal/agent";
import { LifecyclePhase } from "@froctal/protocol";
import { createAgentServer, createRecordingIngest, type RecordingIngest } from "@froctal/server";
import { afterEach, describe, expect, it, vi } from "vitest";

vi.setConfig({ testTimeout: 20_000 });

import { Bridge } from "./bridge.js";

/** A guest's channel: `host` is what libvirt exposes on the host; `port` is the guest's device end. */
class FakeChannel {
  readonly host: string;
  readonly port: string;
  private hostSide: Socket | undefined;
  private guestSide: Socket | undefined;
  private readonly servers: Server[] = [];
  private readonly pendingToGuest: Buffer[] = [];
  private readonly pendingToHost: Buffer[] = [];

  /**
   * Whether the guest's reads end when the host side goes. A pty-like port does; a virtio-serial
   * port does not (the guest's writes wait, its reads see nothing), which is the harder case.
   */
  eofOnHostDrop = true;

  constructor(dir: string, name: string) {
    this.host = join(dir, `${name}.host.sock`);
    this.port = join(dir, `${name}.port.sock`);
  }

  async listen(): Promise<void> {
    const host = createServer((s) => {
      this.hostSide = s;
      for (const b of this.pendingToHost.splice(0)) s.write(b);
      s.on("data", (d) => (this.guestSide ? this.guestSide.write(d) : this.pendingToGuest.push(d)));
      s.on("error", () => {});
      s.on("close", () => {
        if (this.hostSide !== s) return;
        this.hostSide = undefined;
        if (this.eofOnHostDrop) this.guestSide?.destroy();
      });
    });
    const port = createServer((s) => {
      this.guestSide = s;
      for (const b of this.pendingToGuest.splice(0)) s.write(b);
      s.on("data", (d) => (this.hostSide ? this.hostSide.write(d) : this.pendingToHost.push(d)));
      s.on("error", () => {});
      s.on("close", () => {
        if (this.guestSide === s) this.guestSide = undefined;
      });
    });
    this.servers.push(host, port);
    await Promise.all([
      new Promise<void>((r) => host.listen(this.host, r)),
      new Promise<void>((r) => port.listen(this.port, r)),
    ]);
  }

  /** The host-side connection drops (the manager restarted, or the server refused the stream). */
  dropHost(): void {
    this.hostSide?.destroy();
  }

  async close(): Promise<void> {
    this.hostSide?.destroy();
    this.guestSide?.destroy();
    await Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function setup(names: string[]) {
  const dir = mkdtempSync(join(tmpdir(), "froctal-bridge-"));
  const ingest = createRecordingIngest({ tokens: new Map() });
  const server = createAgentServer({ ingest });
  cleanups.push(() => server.close());
  const bridge = new Bridge({ server, backoffMs: 20, maxBackoffMs: 200 });
  cleanups.push(() => bridge.close());
  const channels = new Map<string, FakeChannel>();
  for (const name of names) {
    const ch = new FakeChannel(dir, name);
    await ch.listen();
    cleanups.push(() => ch.close());
    channels.set(name, ch);
  }
  return { ingest, server, bridge, channels };
}

function guest(instanceId: string, channel: FakeChannel): Agent {
  // No token: the channel proves who this is.
  const agent = connectAgent({
    url: `unix:${channel.port}`,
    instanceId,
    env: {},
    helloTimeoutMs: 300,
    reconnect: { initialMs: 20, maxMs: 200 },
  });
  cleanups.push(async () => {
    await agent.close({ timeoutMs: 200 });
  });
  return agent;
}

async function until(ingest: RecordingIngest, what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  if (done()) return;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      stop();
      reject(new Error(`timed out waiting for ${what}`));
    }, timeoutMs);
    const stop = ingest.subscribe(() => {
      if (!done()) return;
      clearTimeout(timer);
      stop();
      resolve();
    });
  });
}

const readies = (ingest: RecordingIngest, id: string) =>
  ingest.events.filter(
    (e) =>
      e.instanceId === id &&
      e.event.kind === "lifecycle" &&
      e.event.lifecycle.phase === LifecyclePhase.LIFECYCLE_PHASE_READY,
  );

describe("Bridge", () => {
  it("relays each guest's channel with the channel as identity, no token, never mixing two guests", async () => {
    const { ingest, bridge, channels } = await setup(["a", "b"]);
    bridge.sync([
      { instanceId: "dom-a", path: channels.get("a")!.host },
      { instanceId: "dom-b", path: channels.get("b")!.host },
    ]);
    const a = guest("dom-a", channels.get("a")!);
    const b = guest("dom-b", channels.get("b")!);
    a.ready();
    b.ready();
    for (let i = 0; i < 50; i++) {
      a.event("tick", { from: "a", i });
      b.event("tick", { from: "b", i });
    }
    await until(
      ingest,
      "both guests' 50 ticks",
      () => ingest.events.filter((e) => e.event.kind === "app").length === 100,
    );
    expect(ingest.hellos.get("dom-a")?.token).toBe("");
    for (const e of ingest.events) {
      if (e.event.kind !== "app") continue;
      const from = (JSON.parse(new TextDecoder().decode(e.event.app.payload)) as { from: string }).from;
      expect(`dom-${from}`).toBe(e.instanceId);
    }
    expect(readies(ingest, "dom-a")).toHaveLength(1);
    expect(readies(ingest, "dom-b")).toHaveLength(1);
  });

  it("reconnects after the host side drops, and the guest's events keep arriving once each", async () => {
    const { ingest, bridge, channels } = await setup(["a"]);
    const ch = channels.get("a")!;
    bridge.sync([{ instanceId: "dom-a", path: ch.host }]);
    const a = guest("dom-a", ch);
    a.ready();
    await until(ingest, "the first session", () => readies(ingest, "dom-a").length === 1);
    ch.dropHost();
    for (let i = 0; i < 20; i++) a.event("after-drop", { i });
    await until(
      ingest,
      "the events sent after the drop",
      () => ingest.events.filter((e) => e.event.kind === "app").length === 20,
    );
    expect(bridge.stats.reconnects).toBeGreaterThanOrEqual(1);
    const seqs = ingest.events.map((e) => e.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
  });

  it("after a manager restart, a guest whose port never saw the stream close says hello again", async () => {
    const first = await setup(["a"]);
    const ch = first.channels.get("a")!;
    ch.eofOnHostDrop = false; // as virtio-serial: the guest does not notice the host going away
    first.bridge.sync([{ instanceId: "dom-a", path: ch.host }]);
    const a = guest("dom-a", ch);
    a.ready();
    await until(first.ingest, "the first session", () => readies(first.ingest, "dom-a").length === 1);

    // The manager dies (SIGKILL: no goodbye on the stream); the guest goes on sending into its port.
    await first.bridge.close();
    ch.dropHost();
    await first.server.close();
    for (let i = 0; i < 5; i++) a.event("while-away", { i });

    const ingest = createRecordingIngest({ tokens: new Map() });
    const server = createAgentServer({ ingest });
    cleanups.push(() => server.close());
    const bridge = new Bridge({ server, backoffMs: 20, maxBackoffMs: 200 });
    cleanups.push(() => bridge.close());
    bridge.sync([{ instanceId: "dom-a", path: ch.host }]);
    // The new server refuses the stream's stale batches as retryable; the agent reconnects and says hello.
    await until(
      ingest,
      "a new session with the events sent while away",
      () => ingest.events.filter((e) => e.event.kind === "app").length === 5,
    );
    expect(ingest.hellos.get("dom-a")?.streamId).toBe(a.streamId);
    expect(server.stats.rejected.FROCTAL_E_FRAME_UNEXPECTED ?? 0).toBeGreaterThanOrEqual(1);
  });

  it("a channel that is not there yet is retried until it appears; sync([]) closes everything", async () => {
    const dir = mkdtempSync(join(tmpdir(), "froctal-bridge-"));
    const { ingest, bridge } = await setup([]);
    const late = new FakeChannel(dir, "late");
    bridge.sync([{ instanceId: "dom-late", path: late.host }]);
    await new Promise((r) => setTimeout(r, 150));
    expect(bridge.connected).toEqual([]);
    await late.listen();
    cleanups.push(() => late.close());
    const g = guest("dom-late", late);
    g.ready();
    await until(ingest, "the late guest", () => readies(ingest, "dom-late").length === 1);
    expect(bridge.connected).toEqual(["dom-late"]);
    bridge.sync([]);
    expect(bridge.connected).toEqual([]);
  });
});
