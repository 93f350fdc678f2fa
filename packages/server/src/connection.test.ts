// The session logic, run over both real transports: a WebSocket on 127.0.0.1 and a unix socket.
import { VirtualClock } from "@froctal/primitives";
import { MetricKind, PROTOCOL_VERSION } from "@froctal/protocol";
import { afterEach, describe, expect, it, vi } from "vitest";
import { batch, type Harness, hello, start, type TransportKind } from "../test/helpers.js";

describe.each<TransportKind>(["ws", "unix"])("a session over %s", (transport) => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("says hello, takes a batch, and acks it", async () => {
    harness = await start(transport, { heartbeatMs: 5_000 });
    const { ingest, server } = harness;
    const agent = await harness.connect();
    agent.send(hello());
    const { hello: welcome } = await agent.nextOf("hello");
    expect(welcome).toMatchObject({
      version: PROTOCOL_VERSION,
      ackedSeq: 0,
      maxFrameBytes: 1 << 20,
      maxBatchEvents: 4096,
      heartbeatMs: 5_000,
    });
    expect(welcome.sessionId).toBe(ingest.sessions.get("web-1")?.sessionId);
    expect(ingest.hellos.get("web-1")?.build.app).toBe("web");

    agent.send(
      batch(1, 3, {
        metricDecls: [{ id: 1, name: "load", kind: MetricKind.METRIC_KIND_GAUGE, unit: "" }],
        metricIds: [1],
        metricValues: [0.75],
      }),
    );
    expect((await agent.nextOf("ack")).ack.seq).toBe(3);
    expect(ingest.events.map((e) => [e.instanceId, e.streamId, e.seq])).toEqual([
      ["web-1", "stream-a", 1],
      ["web-1", "stream-a", 2],
      ["web-1", "stream-a", 3],
    ]);
    expect(ingest.metrics("web-1").get("load")?.value).toBe(0.75);

    agent.send({ configAck: { generation: 4, nonce: "n-1", status: 3, runningGeneration: 4 } });
    await vi.waitFor(() => expect(ingest.configAcks).toHaveLength(1));
    expect(ingest.configAcks[0]?.ack).toMatchObject({ generation: 4, nonce: "n-1", runningGeneration: 4 });

    // A batch of metrics only takes nothing new from the stream: no Ack for it.
    agent.send(batch(0, 0, { metricIds: [1], metricValues: [0.5] }));
    await vi.waitFor(() => expect(ingest.metrics("web-1").get("load")?.value).toBe(0.5));
    expect(server.stats).toMatchObject({
      connections: 1,
      sessions: 1,
      sessionsOpened: 1,
      framesAccepted: 4,
      signalsAccepted: 5,
      acksSent: 1,
    });
    agent.close();
    await agent.closed;
    await vi.waitFor(() => expect(ingest.sessions.size).toBe(0));
    expect(server.stats.sessions).toBe(0);
  });

  it("refuses a wrong token", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello({ token: "secret-2" }));
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse).toMatchObject({ code: "FROCTAL_E_AUTH", retryable: false });
    expect(refuse.reason).toContain("does not match");
    await agent.closed;
    expect(harness.ingest.sessions.size).toBe(0);
    expect(harness.server.stats.rejected.FROCTAL_E_AUTH).toBe(1);
  });

  it("refuses an unknown instance", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello({ instanceId: "db-9", token: "whatever" }));
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({
      code: "FROCTAL_E_AUTH",
      reason: "instance db-9 is unknown",
    });
    await agent.closed;
  });

  it("refuses an agent that shares no protocol version, saying both ranges", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello({ minVersion: 7, maxVersion: 9 }));
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse).toMatchObject({ code: "FROCTAL_E_VERSION", retryable: false });
    expect(refuse.reason).toContain("7..9");
    await agent.closed;
    expect(harness.ingest.hellos.size).toBe(0);
  });

  it("gives up on a connection that says no hello in time", async () => {
    const clock = new VirtualClock();
    harness = await start(transport, { clock, helloTimeoutMs: 1_000 });
    const agent = await harness.connect();
    await vi.waitFor(() => expect(harness?.server.stats.connections).toBe(1));
    clock.advance(999);
    clock.advance(1);
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({ code: "FROCTAL_E_HELLO_TIMEOUT", retryable: true });
    await agent.closed;
    expect(harness.server.stats.rejected.FROCTAL_E_HELLO_TIMEOUT).toBe(1);
  });

  it("refuses a first frame that is not a hello", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(batch(1, 1));
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse.code).toBe("FROCTAL_E_FRAME_UNEXPECTED");
    expect(refuse.reason).toBe("the first frame must be a hello, not a batch");
    await agent.closed;
    expect(harness.ingest.events).toHaveLength(0);
  });

  it("refuses a second hello", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    agent.send(hello());
    expect((await agent.nextOf("refuse")).refuse.code).toBe("FROCTAL_E_FRAME_UNEXPECTED");
    await agent.closed;
    await vi.waitFor(() => expect(harness?.ingest.sessions.size).toBe(0));
  });

  it("refuses bytes that are not a frame", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    const garbage = new Uint8Array([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]);
    agent.sendRaw(transport === "ws" ? garbage : new Uint8Array([garbage.length, ...garbage]));
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({
      code: "FROCTAL_E_FRAME_MALFORMED",
      retryable: false,
    });
    await agent.closed;
    expect(harness.server.stats.rejected.FROCTAL_E_FRAME_MALFORMED).toBe(1);
  });

  it("refuses a batch that breaks the contract, and none of it reaches the ingest", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    agent.send(
      batch(1, 2, {
        metricDecls: [{ id: 1, name: "load", kind: MetricKind.METRIC_KIND_GAUGE }],
        metricIds: [1],
        metricValues: [Number.NaN],
      }),
    );
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse.code).toBe("FROCTAL_E_FRAME_INVALID");
    expect(refuse.reason).toContain("batch.metric_values[0]");
    await agent.closed;
    expect(harness.ingest.events).toHaveLength(0);
    expect(harness.ingest.metrics("web-1").size).toBe(0);
    expect(harness.server.stats.signalsAccepted).toBe(0);
  });

  it("reads nothing after a bad frame, even frames that were already sent", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    agent.send(batch(1, 1, { metricIds: [1], metricValues: [Number.POSITIVE_INFINITY] }));
    agent.send(batch(1, 5));
    await agent.closed;
    expect(harness.ingest.events).toHaveLength(0);
  });

  it("closes a connection over its frame rate, saying when to come back", async () => {
    const clock = new VirtualClock();
    harness = await start(transport, { clock, rate: { framesPerSec: 4, burstSeconds: 1, signalsPerSec: 1e6 } });
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    for (let i = 0; i < 4; i++) agent.send({ pong: { nonce: i } });
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse).toMatchObject({ code: "FROCTAL_E_RATE_LIMITED", retryable: true, retryAfterMs: 250 });
    await agent.closed;
    expect(harness.server.stats.framesAccepted).toBe(4);
  });

  it("closes a connection over its signal rate before the ingest sees the batch", async () => {
    const clock = new VirtualClock();
    harness = await start(transport, {
      clock,
      limits: { maxBatchEvents: 50, maxBatchSamples: 50 },
      rate: { framesPerSec: 100, signalsPerSec: 100, burstSeconds: 1 },
    });
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    agent.send(batch(1, 50));
    expect((await agent.nextOf("ack")).ack.seq).toBe(50);
    clock.advance(200); // 20 signals back in the bucket: 70 in all
    agent.send(batch(51, 50));
    expect((await agent.nextOf("ack")).ack.seq).toBe(100);
    agent.send(batch(101, 50));
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({ code: "FROCTAL_E_RATE_LIMITED", retryAfterMs: 300 });
    await agent.closed;
    expect(harness.ingest.events).toHaveLength(100);
  });

  it("pings an idle agent and gives up after three silent heartbeats", async () => {
    const clock = new VirtualClock();
    harness = await start(transport, { clock, heartbeatMs: 1_000 });
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    clock.advance(1_000);
    const { ping } = await agent.nextOf("ping");
    agent.send({ pong: { nonce: ping.nonce } });
    await vi.waitFor(() => expect(harness?.server.stats.framesAccepted).toBe(2));
    // Heard at t=1000: quiet until t=2000, then a ping a second until t=4000.
    clock.advance(999);
    expect(agent.received.filter((f) => f.frame === "ping")).toHaveLength(1);
    clock.advance(1);
    expect((await agent.nextOf("ping")).ping.nonce).toBe(2);
    clock.advance(1_000);
    expect((await agent.nextOf("ping")).ping.nonce).toBe(3);
    clock.advance(1_000);
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({ code: "FROCTAL_E_TIMEOUT", retryable: true });
    await agent.closed;
    expect(harness.server.stats.pingsSent).toBe(3);
  });

  it("sends each Ack once, for the last batch of a burst", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    for (let i = 0; i < 5; i++) agent.send(batch(1 + i * 2, 2));
    // Acks only ever advance, and the last one names the last event.
    let last = 0;
    while (last < 10) {
      const { ack } = await agent.nextOf("ack");
      expect(ack.seq).toBeGreaterThan(last);
      last = ack.seq;
    }
    expect(harness.server.stats.acksSent).toBeLessThanOrEqual(5);
  });

  it("does not apply events twice when a reconnected agent re-sends them", async () => {
    harness = await start(transport);
    const { ingest } = harness;
    const first = await harness.connect();
    first.send(hello());
    await first.nextOf("hello");
    first.send(batch(1, 3));
    expect((await first.nextOf("ack")).ack.seq).toBe(3);
    first.close();
    await first.closed;

    const second = await harness.connect();
    second.send(hello());
    expect((await second.nextOf("hello")).hello.ackedSeq).toBe(3);
    // A careless agent re-sends everything; only 4 and 5 are new.
    second.send(batch(1, 5));
    expect((await second.nextOf("ack")).ack.seq).toBe(5);
    expect(ingest.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(ingest.anomalies.duplicates).toBe(3);
  });

  it("replaces the session of an instance that connects again", async () => {
    const calls: string[] = [];
    harness = await start(transport, {
      wrap: (ingest) => ({
        ...ingest,
        opened: (session, h) => {
          calls.push(`opened ${session.sessionId}`);
          ingest.opened(session, h);
        },
        closed: (session, reason) => {
          calls.push(`closed ${session.sessionId}`);
          ingest.closed(session, reason);
        },
      }),
    });
    const old = await harness.connect();
    old.send(hello());
    const a = (await old.nextOf("hello")).hello.sessionId;
    const replacement = await harness.connect();
    replacement.send(hello());
    const b = (await replacement.nextOf("hello")).hello.sessionId;
    expect((await old.nextOf("refuse")).refuse).toMatchObject({ code: "FROCTAL_E_SESSION_REPLACED", retryable: true });
    await old.closed;
    expect(calls).toEqual([`opened ${a}`, `closed ${a}`, `opened ${b}`]);
    expect(harness.ingest.sessions.get("web-1")?.sessionId).toBe(b);
    expect(harness.server.session("web-1")?.sessionId).toBe(b);
    replacement.send(batch(1, 1));
    expect((await replacement.nextOf("ack")).ack.seq).toBe(1);
  });

  it("lets the core push frames and close the session", async () => {
    harness = await start(transport);
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    const session = harness.ingest.sessions.get("web-1")!;
    const config = new TextEncoder().encode('{"port":8080}');
    expect(session.send({ prepare: { generation: 2, nonce: "n-2", config, timeoutMs: 5_000 } })).toBe(true);
    const { prepare } = await agent.nextOf("prepare");
    expect(prepare).toMatchObject({ generation: 2, nonce: "n-2", timeoutMs: 5_000 });
    expect(new TextDecoder().decode(prepare.config)).toBe('{"port":8080}');
    expect(() => session.send({ prepare: { generation: 3, config: new Uint8Array(2 << 20) } })).toThrow(
      /FROCTAL_E_FRAME_TOO_LARGE/,
    );
    session.close("FROCTAL_E_CONFIG", "this instance's configuration is broken");
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({
      code: "FROCTAL_E_CONFIG",
      reason: "this instance's configuration is broken",
    });
    await agent.closed;
    expect(session.send({ ping: { nonce: 1 } })).toBe(false);
    expect(harness.server.stats.rejected.FROCTAL_E_CONFIG).toBe(0);
  });

  it("acks only what the core acknowledged after applying it, never a batch on arrival", async () => {
    const ticks: (() => void)[] = [];
    harness = await start(transport, {
      // A core that applies a batch (and so acknowledges it) at its next tick, run here by hand.
      wrap: (ingest) => ({
        ...ingest,
        batch: (session, b) => {
          ticks.push(() => ingest.batch(session, b));
        },
      }),
    });
    const { ingest, server } = harness;
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    agent.send(batch(1, 2));
    await vi.waitFor(() => expect(ticks).toHaveLength(1));
    // Frames go out in order: had the batch been acked on arrival, the Ack would come before this ping.
    expect(ingest.sessions.get("web-1")!.send({ ping: { nonce: 99 } })).toBe(true);
    expect((await agent.next()).frame).toBe("ping");
    expect([ingest.events.length, server.stats.acksSent]).toEqual([0, 0]);

    ticks[0]!();
    expect((await agent.nextOf("ack")).ack.seq).toBe(2);
    expect([ingest.events.length, server.stats.acksSent]).toEqual([2, 1]);
  });

  it("acks nothing the core never applied, and the next hello says so", async () => {
    harness = await start(transport, {
      // A core whose tick stopped (a runaway): batches are taken and never applied.
      wrap: (ingest) => ({ ...ingest, batch: () => {} }),
    });
    const first = await harness.connect();
    first.send(hello());
    await first.nextOf("hello");
    first.send(batch(1, 3));
    first.close();
    await first.closed;
    const again = await harness.connect();
    again.send(hello());
    expect((await again.nextOf("hello")).hello.ackedSeq).toBe(0);
    expect(first.received.map((f) => f.frame)).toEqual(["hello"]);
    expect(harness.server.stats.acksSent).toBe(0);
  });

  it("ends a connection whose ingest call throws, and says it is the manager's fault", async () => {
    harness = await start(transport, {
      wrap: (ingest) => ({
        ...ingest,
        configAck: () => {
          throw new Error("store is broken");
        },
      }),
    });
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    agent.send({ configAck: { generation: 1, status: 1 } });
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse.code).toBe("FROCTAL_E_INTERNAL");
    expect(refuse.reason).toContain("store is broken");
    await agent.closed;
  });
});
