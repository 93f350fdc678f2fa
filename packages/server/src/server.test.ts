// One server, both transports at once: isolation between agents, counters, backpressure, and a clean close().
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeAgentFrame, encodeDelimited, FroctalError } from "@froctal/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { batch, hello, type RawAgent, streamAgent, TOKENS, wsAgent } from "../test/helpers.js";
import { createRecordingIngest, type RecordingIngest } from "./recording-ingest.js";
import { type AgentServer, createAgentServer } from "./server.js";

/** Handles that would keep the process alive: sockets, listeners, timers. */
function handles(): string[] {
  return process
    .getActiveResourcesInfo()
    .filter((r) => /TCP|Pipe|Timeout|Immediate/.test(r))
    .sort();
}

describe("createAgentServer", () => {
  let dir: string;
  let ingest: RecordingIngest;
  let server: AgentServer;
  let wsUrl: string;
  let unixPath: string;
  let baseline: string[];

  beforeEach(async () => {
    baseline = handles();
    dir = mkdtempSync(join(tmpdir(), "froctal-server-"));
    ingest = createRecordingIngest({ tokens: TOKENS });
    server = createAgentServer({
      ingest,
      limits: { maxFrameBytes: 64 * 1024 },
      maxBufferedBytes: 64 * 1024,
      closeGraceMs: 200,
    });
    wsUrl = (await server.listenWebSocket()).address;
    unixPath = join(dir, "agent.sock");
    await server.listenUnix(unixPath);
  });
  afterEach(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function admitted(agent: Promise<RawAgent>, instanceId = "web-1"): Promise<RawAgent> {
    const a = await agent;
    a.send(hello({ instanceId, token: TOKENS.get(instanceId) }));
    await a.nextOf("hello");
    return a;
  }

  it("checks its options", () => {
    expect(() => createAgentServer({ ingest, heartbeatMs: 0 })).toThrow(/FROCTAL_E_CONFIG: heartbeatMs/);
    expect(() => createAgentServer({ ingest, rate: { signalsPerSec: 10, burstSeconds: 1 } })).toThrow(
      /must hold a full batch/,
    );
  });

  it("keeps serving good agents while bad ones are refused, and counts each refusal by its code", async () => {
    const good = await admitted(wsAgent(wsUrl), "web-1");
    const alsoGood = await admitted(streamAgent(unixPath), "web-2");

    const bad: Promise<unknown>[] = [];
    const garbage = await streamAgent(unixPath);
    garbage.sendRaw(new Uint8Array([3, 0xff, 0xff, 0xff]));
    bad.push(garbage.closed);
    const liar = await wsAgent(wsUrl);
    liar.send(hello({ instanceId: "web-2", token: "secret-1" }));
    bad.push(liar.closed);
    const rude = await wsAgent(wsUrl);
    rude.send(batch(1, 1));
    bad.push(rude.closed);
    const nan = await admitted(streamAgent(unixPath), "web-2"); // replaces alsoGood's session
    nan.send(batch(1, 1, { metricIds: [1], metricValues: [Number.NaN] }));
    bad.push(nan.closed);
    const huge = await wsAgent(wsUrl);
    huge.sendRaw(new Uint8Array(64 * 1024 + 1));
    bad.push(huge.closed);
    await Promise.all(bad);
    await alsoGood.closed;

    good.send(batch(1, 3));
    expect((await good.nextOf("ack")).ack.seq).toBe(3);
    const rejected = Object.fromEntries(Object.entries(server.stats.rejected).filter(([, n]) => n > 0));
    expect(rejected).toEqual({
      FROCTAL_E_AUTH: 1,
      FROCTAL_E_FRAME_INVALID: 1,
      FROCTAL_E_FRAME_MALFORMED: 1,
      FROCTAL_E_FRAME_TOO_LARGE: 1,
      FROCTAL_E_FRAME_UNEXPECTED: 1,
      FROCTAL_E_SESSION_REPLACED: 1,
    });
    expect(ingest.events.map((e) => e.instanceId)).toEqual(["web-1", "web-1", "web-1"]);
    await vi.waitFor(() => expect(server.stats.connections).toBe(1));
    expect(server.stats.sessions).toBe(1);
  });

  it("replaces a session across transports", async () => {
    const overWs = await admitted(wsAgent(wsUrl));
    const overUnix = await admitted(streamAgent(unixPath));
    expect((await overWs.nextOf("refuse")).refuse.code).toBe("FROCTAL_E_SESSION_REPLACED");
    expect(ingest.sessions.get("web-1")?.sessionId).toBe(server.session("web-1")?.sessionId);
    overUnix.send(batch(1, 1));
    expect((await overUnix.nextOf("ack")).ack.seq).toBe(1);
  });

  it.each(["ws", "unix"] as const)("says no to the core's sends while a %s agent does not read", async (transport) => {
    const agent = await admitted(transport === "ws" ? wsAgent(wsUrl) : streamAgent(unixPath));
    agent.pause();
    const session = ingest.sessions.get("web-1")!;
    const config = new Uint8Array(32 * 1024);
    let sent = 0;
    // The kernel's socket buffers take the first few hundred KiB; past them, our bound must hold.
    while (session.send({ prepare: { generation: sent + 1, nonce: "n", config } })) {
      sent++;
      if (sent > 10_000) throw new Error("send never said no");
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(sent).toBeGreaterThan(0);
    expect(server.stats.sendsBackedUp).toBe(1);
    expect(session.send({ ping: { nonce: 1 } })).toBe(false);
  });

  it("closes every connection and listener and leaves nothing running", async () => {
    const agents = [
      await admitted(wsAgent(wsUrl), "web-1"),
      await admitted(streamAgent(unixPath), "web-2"),
      await wsAgent(wsUrl),
      await streamAgent(unixPath),
    ];
    // Half a frame: the server holds a partial frame for this one.
    agents[3]?.sendRaw(encodeDelimited(encodeAgentFrame(hello())).subarray(0, 10));
    await vi.waitFor(() => expect(server.stats.connections).toBe(4));
    await server.close();
    for (const agent of agents) {
      expect((await agent.nextOf("refuse")).refuse).toMatchObject({
        code: "FROCTAL_E_CLOSED",
        retryable: true,
        retryAfterMs: 1_000,
      });
      await agent.closed;
    }
    expect(server.stats).toMatchObject({ connections: 0, sessions: 0 });
    expect(ingest.sessions.size).toBe(0);
    expect(Object.values(server.stats.rejected).every((n) => n === 0)).toBe(true);
    await expect(server.listenUnix(join(dir, "again.sock"))).rejects.toThrow(FroctalError);
    await new Promise((resolve) => setImmediate(resolve));
    expect(handles()).toEqual(baseline);
  });
});
