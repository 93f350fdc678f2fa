// What only the WebSocket transport does: text messages, ws's own size limit, close codes, attaching to a server.
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket from "ws";
import { batch, type Harness, hello, start, TOKENS, wsAgent } from "../test/helpers.js";
import { createRecordingIngest } from "./recording-ingest.js";
import { type AgentServer, createAgentServer } from "./server.js";

describe("the WebSocket transport", () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("refuses a text message", async () => {
    harness = await start("ws");
    const agent = await wsAgent(harness.address);
    agent.send(hello());
    await agent.nextOf("hello");
    const ws = new WebSocket(harness.address);
    await new Promise((resolve) => ws.once("open", resolve));
    const closed = new Promise<[number, string]>((resolve) =>
      ws.once("close", (code, reason) => resolve([code, reason.toString()])),
    );
    ws.send("hello, manager");
    expect(await closed).toEqual([1008, "FROCTAL_E_FRAME_MALFORMED"]);
    expect(harness.server.stats.rejected.FROCTAL_E_FRAME_MALFORMED).toBe(1);
    // The other agent carries on.
    agent.send(batch(1, 1));
    expect((await agent.nextOf("ack")).ack.seq).toBe(1);
  });

  it("lets ws drop a message over maxFrameBytes before buffering it; the ingest never sees it", async () => {
    harness = await start("ws", { limits: { maxFrameBytes: 4_096, maxBatchEvents: 1_000, maxBatchSamples: 100 } });
    const agent = await harness.connect();
    agent.send(hello());
    expect((await agent.nextOf("hello")).hello.maxFrameBytes).toBe(4_096);
    agent.send(batch(1, 10));
    expect((await agent.nextOf("ack")).ack.seq).toBe(10);
    agent.send(batch(11, 200)); // a valid batch, but over 4 KiB
    expect(await agent.closed).toEqual({ code: 1009, reason: "" });
    expect(harness.server.stats.rejected.FROCTAL_E_FRAME_TOO_LARGE).toBe(1);
    expect(harness.ingest.events).toHaveLength(10);
  });

  it("closes with 1008 for a refusal that will not change, 1013 for one worth retrying, the code as reason", async () => {
    harness = await start("ws", { rate: { framesPerSec: 1, burstSeconds: 1 } });
    const denied = await harness.connect();
    denied.send(hello({ token: "nope" }));
    expect(await denied.closed).toEqual({ code: 1008, reason: "FROCTAL_E_AUTH" });
    const hasty = await harness.connect();
    hasty.send(hello());
    hasty.send(batch(1, 1));
    expect(await hasty.closed).toEqual({ code: 1013, reason: "FROCTAL_E_RATE_LIMITED" });
  });

  it("does not negotiate compression", async () => {
    harness = await start("ws");
    const ws = new WebSocket(harness.address, { perMessageDeflate: true });
    await new Promise((resolve) => ws.once("open", resolve));
    expect(ws.extensions).toBe("");
    ws.close();
    await new Promise((resolve) => ws.once("close", resolve));
  });
});

describe("attachWebSocket", () => {
  let http: Server | undefined;
  let server: AgentServer | undefined;
  afterEach(async () => {
    await server?.close();
    await new Promise((resolve) => http?.close(resolve));
    server = undefined;
    http = undefined;
  });

  it("serves agents on its path of a server it does not own, and lets go of it", async () => {
    http = createServer((_req, res) => res.end("dashboard"));
    await new Promise<void>((resolve) => http?.listen(0, "127.0.0.1", resolve));
    const { port } = http.address() as AddressInfo;
    const ingest = createRecordingIngest({ tokens: TOKENS });
    server = createAgentServer({ ingest });
    const detach = server.attachWebSocket(http, { path: "/froctal/agent" });

    const agent = await wsAgent(`ws://127.0.0.1:${port}/froctal/agent`);
    agent.send(hello());
    await agent.nextOf("hello");
    await expect(wsAgent(`ws://127.0.0.1:${port}/elsewhere`)).rejects.toThrow(/404/);

    detach();
    expect(http.listenerCount("upgrade")).toBe(0);
    // Detaching stops new connections; the open session carries on until server.close().
    agent.send(batch(1, 2));
    expect((await agent.nextOf("ack")).ack.seq).toBe(2);
    await server.close();
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({ code: "FROCTAL_E_CLOSED", retryable: true });
    expect((await agent.closed).code).toBe(1001);
    await vi.waitFor(() => expect(ingest.sessions.size).toBe(0));
    expect(http.listening).toBe(true);
  });
});
