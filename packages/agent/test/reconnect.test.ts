import type { FroctalError } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { testAgent } from "./agents.js";
import { appEvents, Cleanup, freePort, type Kind, sleep, socketPath, startManager, waitFor } from "./harness.js";
import { managerHello, startRawManager } from "./raw-manager.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const seqsOf = (events: [number, string, unknown][]) => events.map(([seq]) => seq);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe.each<Kind>(["ws", "unix"])("over %s", (kind) => {
  it("reconnects after the server drops it, keeps its stream, and delivers every event exactly once", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    const disconnects: unknown[] = [];
    agent.on("disconnect", (e) => disconnects.push(e));
    await agent.connected;
    let n = 0;
    const emit = setInterval(() => {
      for (let i = 0; i < 20; i++) agent.event("tick", ++n);
      agent.gauge("emitted", n);
    }, 2);
    try {
      for (let drop = 0; drop < 3; drop++) {
        await waitFor("traffic", () => m.ingest.events.length > n / 2 && n > 100 * (drop + 1));
        m.drop();
        await waitFor("reconnect", () => agent.stats.reconnects === drop + 1);
      }
    } finally {
      clearInterval(emit);
    }
    await waitFor("all events", () => m.ingest.events.length === n);
    expect(seqsOf(appEvents(m.ingest))).toEqual(range(1, n));
    expect(appEvents(m.ingest).map(([, , v]) => v)).toEqual(range(1, n));
    // Metric ids are re-declared on every new connection: no sample arrived undeclared.
    expect(m.ingest.anomalies).toEqual({ duplicates: 0, gaps: 0, undeclaredSamples: 0 });
    await waitFor("the last gauge value", () => m.ingest.metrics("web-1").get("emitted")?.value === n);
    expect(m.ingest.hellos.get("web-1")?.streamId).toBe(agent.streamId);
    expect(disconnects).toHaveLength(3);
    await waitFor("acks", () => agent.stats.buffered === 0);
    expect(agent.stats).toMatchObject({ queued: n, acked: n, dropped: 0, connects: 4, reconnects: 3 });
  });

  it("re-sends the events the manager never applied, and only those", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    for (let i = 1; i <= 10; i++) agent.event("e", i);
    await waitFor("10 applied", () => agent.stats.acked === 10);
    m.hold = true; // the manager takes the next batches but loses them
    for (let i = 11; i <= 25; i++) agent.event("e", i);
    await waitFor("sent", () => agent.stats.sent === 25);
    await sleep(20);
    expect(agent.stats.buffered).toBe(15);
    m.hold = false;
    m.drop();
    await waitFor("re-sent and applied", () => m.ingest.events.length === 25 && agent.stats.buffered === 0);
    expect(seqsOf(appEvents(m.ingest))).toEqual(range(1, 25));
    expect(agent.stats).toMatchObject({ sent: 25, resent: 15, acked: 25 });
    expect(m.ingest.anomalies.duplicates).toBe(0);
  });

  it("keeps what is emitted while no manager is up, and delivers it once one is", async () => {
    const where = kind === "ws" ? { port: await freePort() } : { path: socketPath() };
    const url = kind === "ws" ? `ws://127.0.0.1:${where.port}/agent` : `unix:${where.path}`;
    const agent = cleanup.add(testAgent(url));
    for (let i = 1; i <= 5; i++) agent.event("early", i);
    for (let i = 1; i <= 100; i++) agent.gauge("load", i);
    await sleep(60); // a few refused connection attempts
    expect(["waiting", "connecting"]).toContain(agent.state);
    const m = cleanup.add(await startManager(kind, where));
    await agent.connected;
    await waitFor("delivery", () => m.ingest.events.length === 5 && m.ingest.metrics("web-1").has("load"));
    expect(seqsOf(appEvents(m.ingest))).toEqual(range(1, 5));
    // The link was down: the gauge coalesced to its latest value, one sample went out.
    expect(m.ingest.metrics("web-1").get("load")?.value).toBe(100);
    expect(agent.stats).toMatchObject({ coalesced: 99, samples: 1 });
  });

  it("drops a connection whose manager does not answer the hello in time, and tries again", async () => {
    const raw = cleanup.add(await startRawManager(kind, () => {})); // accepts, never answers
    const agent = cleanup.add(testAgent(raw.url, { helloTimeoutMs: 50, closeTimeoutMs: 0 }));
    agent.event("early");
    await waitFor("hello timeouts", () => raw.connections.length >= 2);
    expect(agent.state).not.toBe("connected");
    expect(agent.stats.sent).toBe(0);
    expect(raw.connections.every((c) => c.frames.every((f) => f.frame === "hello"))).toBe(true);
    await waitFor("the first connection closed", () => raw.connections[0]!.closed);
  });
});

describe("refusals", () => {
  it("stops for good on a non-retryable refusal (bad token): rejects connected, reports, refuses calls", async () => {
    const m = cleanup.add(await startManager("ws"));
    const agent = cleanup.add(testAgent(m.url, { token: "wrong" }));
    const errors: FroctalError[] = [];
    agent.on("error", (e) => errors.push(e));
    agent.event("queued-before-refusal");
    await expect(agent.connected).rejects.toMatchObject({ code: "FROCTAL_E_AUTH", retryable: false });
    await sleep(300); // several backoff periods
    expect(m.accepted).toBe(1);
    expect(agent.state).toBe("failed");
    expect(errors.map((e) => e.code)).toEqual(["FROCTAL_E_AUTH"]);
    expect(() => agent.gauge("load", 1)).toThrow(expect.objectContaining({ code: "FROCTAL_E_AUTH" }));
    await expect(agent.close()).resolves.toEqual({ unacked: 1 });
  });

  it("waits at least retry_after_ms after a retryable refusal", async () => {
    const times: number[] = [];
    const raw = cleanup.add(
      await startRawManager("unix", (conn, frame) => {
        if (frame.frame !== "hello") return;
        times.push(Date.now());
        if (times.length === 1) {
          conn.send({
            refuse: { code: "FROCTAL_E_RATE_LIMITED", reason: "slow down", retryable: true, retryAfterMs: 300 },
          });
          conn.drop();
        } else conn.send(managerHello());
      }),
    );
    const agent = cleanup.add(testAgent(raw.url));
    const errors: FroctalError[] = [];
    agent.on("error", (e) => errors.push(e));
    await agent.connected;
    expect(times[1]! - times[0]!).toBeGreaterThanOrEqual(290);
    expect(errors[0]).toMatchObject({ code: "FROCTAL_E_RATE_LIMITED", retryable: true });
  });

  it("gives up after reconnect.maxAttempts failures in a row", async () => {
    const agent = cleanup.add(
      testAgent("unix:/nonexistent/froctal.sock", { reconnect: { initialMs: 5, maxMs: 10, maxAttempts: 3 } }),
    );
    await expect(agent.connected).rejects.toMatchObject({ code: "FROCTAL_E_TRANSPORT" });
    expect(agent.state).toBe("failed");
  });
});

describe("a manager that restarted and forgot", () => {
  it("is told again what is still true: phase, devices, facts (and not what was removed)", async () => {
    const path = socketPath();
    const first = await startManager("unix", { path });
    const agent = cleanup.add(testAgent(`unix:${path}`));
    agent.ready();
    agent.device.added("eth1", "nic", { speed_mbps: 10_000 });
    agent.device.added("eth2", "nic", { speed_mbps: 100 });
    agent.device.removed("eth2", "nic");
    agent.event("endpoint", { url: "http://127.0.0.1:1" });
    agent.event("endpoint", { url: "http://127.0.0.1:2" });
    await waitFor("all acked", () => agent.stats.acked === 6);
    await first.close(); // a new manager knows nothing of this stream: it answers acked_seq 0

    const second = cleanup.add(await startManager("unix", { path }));
    await waitFor("the state again", () => second.ingest.events.length === 3);
    const kinds = second.ingest.events.map((e) =>
      e.event.kind === "lifecycle"
        ? `lifecycle ${e.event.lifecycle.phase}`
        : e.event.kind === "device"
          ? `device ${e.event.device.change} ${e.event.device.deviceId}`
          : `app ${e.event.app.name} ${new TextDecoder().decode(e.event.app.payload)}`,
    );
    expect(kinds).toEqual(["lifecycle 2", "device 1 eth1", 'app endpoint {"url":"http://127.0.0.1:2"}']);
    expect(agent.stats.reannounced).toBe(1);
  });

  it("re-announces in the first batch of the new session, with its gauges: a manager that waits for one batch has it all", async () => {
    const path = socketPath();
    const first = await startManager("unix", { path });
    const agent = cleanup.add(testAgent(`unix:${path}`));
    agent.ready();
    agent.event("endpoint", { url: "http://127.0.0.1:1" });
    agent.gauge("in_flight", 3);
    await waitFor("all acked", () => agent.stats.acked === 2);
    await first.close();

    const second = cleanup.add(await startManager("unix", { path }));
    await waitFor("a batch", () => second.batches.length > 0);
    const [firstBatch] = second.batches;
    expect(firstBatch?.events.map((e) => e.kind)).toEqual(["lifecycle", "app"]);
    expect(firstBatch?.metricDecls.map((m) => m.name)).toEqual(["in_flight"]);
  });
});
