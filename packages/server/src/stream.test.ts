// What only the byte-stream transport does: length headers, chunking, per-instance channels, unix socket files.
import { spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeAgentFrame, encodeDelimited } from "@froctal/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { batch, type Harness, hello, start, streamAgent, TOKENS } from "../test/helpers.js";
import { createRecordingIngest } from "./recording-ingest.js";
import { type AgentServer, createAgentServer } from "./server.js";

describe("the byte-stream transport", () => {
  let harness: Harness | undefined;
  afterEach(async () => {
    await harness?.close();
    harness = undefined;
  });

  it("refuses a frame whose length header is over the limit before its body arrives", async () => {
    harness = await start("unix", { limits: { maxFrameBytes: 4_096 } });
    const agent = await harness.connect();
    agent.send(hello());
    await agent.nextOf("hello");
    const big = encodeDelimited(encodeAgentFrame(batch(1, 200)));
    expect(big.length).toBeGreaterThan(4_096);
    agent.sendRaw(big.subarray(0, 16)); // the header and a little: the server must not wait for the rest
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse).toMatchObject({ code: "FROCTAL_E_FRAME_TOO_LARGE", retryable: false });
    expect(refuse.reason).toContain("over the limit of 4096 bytes");
    await agent.closed;
    expect(harness.ingest.events).toHaveLength(0);
    expect(harness.server.stats.rejected.FROCTAL_E_FRAME_TOO_LARGE).toBe(1);
  });

  it("refuses a length header longer than any frame could need", async () => {
    harness = await start("unix");
    const agent = await harness.connect();
    agent.sendRaw(new Uint8Array([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]));
    expect((await agent.nextOf("refuse")).refuse.code).toBe("FROCTAL_E_FRAME_MALFORMED");
    await agent.closed;
  });

  it("reads frames split anywhere and frames sharing a write, and acks a write's batches once", async () => {
    harness = await start("unix");
    const agent = await harness.connect();
    const helloBytes = encodeDelimited(encodeAgentFrame(hello()));
    for (const byte of helloBytes) agent.sendRaw(new Uint8Array([byte]));
    await agent.nextOf("hello");
    const three = [batch(1, 2), batch(3, 2), batch(5, 2)].map((f) => encodeDelimited(encodeAgentFrame(f)));
    agent.sendRaw(Buffer.concat(three));
    expect((await agent.nextOf("ack")).ack.seq).toBe(6);
    // The pong round trip proves the server read past the batches; still one Ack.
    agent.send({ pong: { nonce: 1 } });
    await vi.waitFor(() => expect(harness?.server.stats.framesAccepted).toBe(5));
    expect(harness.server.stats.acksSent).toBe(1);
    expect(harness.ingest.events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe("serveStream on a per-instance channel", () => {
  let dir: string;
  let listener: Server | undefined;
  let server: AgentServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "froctal-vport-"));
  });
  afterEach(async () => {
    await server?.close();
    await new Promise((resolve) => (listener ? listener.close(resolve) : resolve(undefined)));
    rmSync(dir, { recursive: true, force: true });
    server = listener = undefined;
  });

  /** Stands in for a virtio-serial socket: every connection on it is instance vm-3's. */
  async function vport(): Promise<{ path: string; disposers: (() => void)[] }> {
    const ingest = createRecordingIngest({ tokens: new Map() });
    server = createAgentServer({ ingest });
    const path = join(dir, "vm-3.sock");
    const disposers: (() => void)[] = [];
    const s = server;
    listener = createServer((socket) =>
      disposers.push(s.serveStream(socket, { instanceId: "vm-3", peer: "vport vm-3" })),
    );
    await new Promise<void>((resolve) => listener?.listen(path, resolve));
    return { path, disposers };
  }

  it("admits the channel's instance without a token", async () => {
    const { path } = await vport();
    const agent = await streamAgent(path);
    agent.send(hello({ instanceId: "vm-3", token: "" }));
    await agent.nextOf("hello");
    agent.send(batch(1, 1));
    expect((await agent.nextOf("ack")).ack.seq).toBe(1);
  });

  it("refuses a hello that names another instance", async () => {
    const { path } = await vport();
    const agent = await streamAgent(path);
    agent.send(hello({ instanceId: "web-1", token: "secret-1" }));
    const { refuse } = await agent.nextOf("refuse");
    expect(refuse).toMatchObject({
      code: "FROCTAL_E_AUTH",
      reason: "this channel belongs to instance vm-3, not to web-1",
    });
    await agent.closed;
  });

  it("shuts one connection down through its disposer", async () => {
    const { path, disposers } = await vport();
    const agent = await streamAgent(path);
    agent.send(hello({ instanceId: "vm-3", token: "" }));
    await agent.nextOf("hello");
    disposers[0]?.();
    expect((await agent.nextOf("refuse")).refuse).toMatchObject({ code: "FROCTAL_E_CLOSED", retryable: true });
    await agent.closed;
    await vi.waitFor(() => expect(server?.stats.connections).toBe(0));
  });
});

describe("listenUnix", () => {
  let dir: string;
  let server: AgentServer | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "froctal-unix-"));
  });
  afterEach(async () => {
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("takes over a socket file a dead manager left, but not one in use", async () => {
    const path = join(dir, "agent.sock");
    // A manager killed outright leaves its socket file behind.
    spawnSync(process.execPath, [
      "-e",
      `require("node:net").createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, "SIGKILL"))`,
    ]);
    expect(lstatSync(path).isSocket()).toBe(true);
    server = createAgentServer({ ingest: createRecordingIngest({ tokens: TOKENS }) });
    const endpoint = await server.listenUnix(path);
    const agent = await streamAgent(path);
    agent.send(hello());
    await agent.nextOf("hello");
    await expect(server.listenUnix(path)).rejects.toThrow(/EADDRINUSE/);
    endpoint.close();
    await expect(streamAgent(path)).rejects.toThrow(/ENOENT/);
  });

  it("never removes a file that is not a socket", async () => {
    const path = join(dir, "agent.sock");
    writeFileSync(path, "precious");
    server = createAgentServer({ ingest: createRecordingIngest({ tokens: TOKENS }) });
    await expect(server.listenUnix(path)).rejects.toThrow(/EADDRINUSE/);
    expect(readFileSync(path, "utf8")).toBe("precious");
  });
});
