import { ConfigAckStatus, LifecyclePhase } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import type { FroctalError } from "../src/index.js";
import { testAgent } from "./agents.js";
import { Cleanup, type Kind, sleep, startManager, type TestManager, waitFor } from "./harness.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const { CONFIG_ACK_STATUS_PREPARED: PREPARED, CONFIG_ACK_STATUS_NACKED: NACKED } = ConfigAckStatus;
const { CONFIG_ACK_STATUS_COMMITTED: COMMITTED, CONFIG_ACK_STATUS_ABORTED: ABORTED } = ConfigAckStatus;

interface Routes {
  readonly routes: readonly string[];
}

const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function push(m: TestManager, kind: "prepare" | "commit" | "abort", generation: number, config?: Routes) {
  const session = m.server.session("web-1")!;
  const nonce = `n${generation}`;
  if (kind === "prepare") session.send({ prepare: { generation, nonce, config: bytes(config), timeoutMs: 1000 } });
  else if (kind === "commit") session.send({ commit: { generation, nonce } });
  else session.send({ abort: { generation, nonce, reason: "another router could not prepare" } });
}

const acks = (m: TestManager) =>
  m.ingest.configAcks.map((a) => [a.ack.generation, a.ack.status, a.ack.runningGeneration]);

const phases = (m: TestManager) =>
  m.ingest.events.flatMap((r) =>
    r.event.kind === "lifecycle" ? [[r.event.lifecycle.phase, r.event.lifecycle.detail]] : [],
  );

describe.each<Kind>(["ws", "unix"])("commands over %s", (kind) => {
  it("config: prepare validates, commit applies, abort drops, a bad one is nacked with its reason", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    let running: Routes = { routes: [] };
    const dropped: number[] = [];
    agent.onConfig<Routes>({
      prepare: (config) => (config.routes.includes("unreachable") ? "route 'unreachable' has no next hop" : undefined),
      commit: (config) => {
        running = config;
      },
      abort: (generation) => void dropped.push(generation),
    });
    await agent.connected;

    push(m, "prepare", 1, { routes: ["10.0.0.0/8"] });
    await waitFor("prepared", () => acks(m).length === 1);
    expect(running.routes).toEqual([]); // prepare applies nothing
    push(m, "commit", 1);
    await waitFor("committed", () => acks(m).length === 2);
    expect(running.routes).toEqual(["10.0.0.0/8"]);
    expect(agent.runningGeneration).toBe(1);

    push(m, "prepare", 2, { routes: ["unreachable"] });
    await waitFor("nacked", () => acks(m).length === 3);
    expect(m.ingest.configAcks[2]!.ack.reason).toBe("route 'unreachable' has no next hop");

    push(m, "prepare", 3, { routes: ["192.168.0.0/16"] });
    await waitFor("prepared 3", () => acks(m).length === 4);
    push(m, "abort", 3);
    await waitFor("aborted", () => acks(m).length === 5);
    push(m, "commit", 3); // stale after the abort: ignored
    await sleep(30);
    expect(acks(m)).toEqual([
      [1, PREPARED, 0],
      [1, COMMITTED, 1],
      [2, NACKED, 1],
      [3, PREPARED, 1],
      [3, ABORTED, 1],
    ]);
    expect(dropped).toEqual([3]);
    expect(running.routes).toEqual(["10.0.0.0/8"]);

    // The next hello reports what actually runs.
    m.drop();
    await waitFor("reconnect", () => agent.stats.reconnects === 1);
    expect(m.ingest.hellos.get("web-1")?.runningGeneration).toBe(1);
  });

  it("config: a commit whose handler throws keeps the previous generation and says so", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url, { runningGeneration: 4 }));
    const errors: FroctalError[] = [];
    agent.on("error", (e) => errors.push(e));
    agent.onConfig({
      commit: () => {
        throw new Error("could not bind :443");
      },
    });
    await agent.connected;
    push(m, "prepare", 5, { routes: [] });
    await waitFor("prepared", () => acks(m).length === 1);
    push(m, "commit", 5);
    await waitFor("answer", () => acks(m).length === 2);
    expect(acks(m)[1]).toEqual([5, NACKED, 4]);
    expect(m.ingest.configAcks[1]!.ack.reason).toContain("could not bind :443");
    expect(agent.runningGeneration).toBe(4);
    expect(errors.map((e) => e.code)).toEqual(["FROCTAL_E_CONFIG_NACK"]);
  });

  it("drain: reports DRAINING, waits for the drain handlers, then DRAINED", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    let finish!: () => void;
    agent.onDrain(() => new Promise<void>((resolve) => (finish = resolve)));
    await agent.connected;
    m.server.session("web-1")!.send({ drain: { deadlineMs: 10_000, reason: "scale down" } });
    await waitFor("draining", () => phases(m).length === 1);
    await sleep(20);
    expect(phases(m)).toEqual([[LifecyclePhase.LIFECYCLE_PHASE_DRAINING, "scale down"]]);
    finish();
    await waitFor("drained", () => phases(m).length === 2);
    expect(phases(m)[1]).toEqual([LifecyclePhase.LIFECYCLE_PHASE_DRAINED, "scale down"]);
  });

  it("shutdown: reports STOPPING, runs the handlers, then closes the agent after flushing", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    const calls: string[] = [];
    agent.onShutdown(async ({ reason }) => {
      calls.push(reason);
      agent.event("goodbye");
    });
    await agent.connected;
    m.server.session("web-1")!.send({ shutdown: { graceMs: 1000, reason: "host maintenance" } });
    await waitFor("closed", () => agent.state === "closed");
    expect(calls).toEqual(["host maintenance"]);
    expect(phases(m)).toEqual([[LifecyclePhase.LIFECYCLE_PHASE_STOPPING, "host maintenance"]]);
    expect(m.ingest.events).toHaveLength(2); // STOPPING, then the handler's event, both acked before closing
    expect(agent.stats.buffered).toBe(0);
  });

  it("keeps a quiet session alive: answers pings and sends heartbeats", async () => {
    const m = cleanup.add(await startManager(kind, { heartbeatMs: 40 }));
    const agent = cleanup.add(testAgent(m.url));
    const session = await agent.connected;
    expect(session.heartbeatMs).toBe(40);
    await sleep(400); // ten heartbeat periods with nothing to say
    expect(agent.state).toBe("connected");
    expect(agent.stats.reconnects).toBe(0);
    expect(agent.stats.frames).toBeGreaterThan(5);
  });
});

it("answers Ping with Pong carrying the nonce", async () => {
  const { startRawManager, managerHello } = await import("./raw-manager.js");
  const raw = cleanup.add(
    await startRawManager("unix", (conn, frame) => {
      if (frame.frame === "hello") {
        conn.send(managerHello());
        conn.send({ ping: { nonce: 42 } });
      }
    }),
  );
  const agent = cleanup.add(testAgent(raw.url, { closeTimeoutMs: 0 }));
  await agent.connected;
  await waitFor("pong", () => raw.connections[0]!.frames.some((f) => f.frame === "pong"));
  expect(raw.connections[0]!.frames.find((f) => f.frame === "pong")).toEqual(
    expect.objectContaining({ pong: expect.objectContaining({ nonce: 42 }) }),
  );
});
