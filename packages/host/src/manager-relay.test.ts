import { createServer, type Server } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { type ManagerRelay, openManagerRelay } from "./manager-relay.js";

describe("the manager relay", () => {
  const closing: Array<() => Promise<void>> = [];
  afterEach(async () => {
    for (const close of closing.splice(0).reverse()) await close();
  });

  /** A WebSocket server answering each message with its name, the path asked for, and the message. */
  async function manager(name: string): Promise<{ url: string; wss: WebSocketServer }> {
    const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
    await new Promise((resolve) => wss.once("listening", resolve));
    closing.push(() => new Promise<void>((resolve) => wss.close(() => resolve())));
    wss.on("connection", (socket, request) =>
      socket.on("message", (data) => socket.send(`${name} ${request.url} ${data}`)),
    );
    const { port } = wss.address() as { port: number };
    return { url: `ws://127.0.0.1:${port}/host`, wss };
  }

  it("carries a guest's WebSocket to the manager its link is on now, byte for byte, and follows it to another", async () => {
    const [first, second] = [await manager("m1"), await manager("m2")];
    let current = first.url;
    const relay: ManagerRelay = await openManagerRelay({ host: "127.0.0.1", manager: () => current });
    closing.push(() => relay.close());
    expect(relay.agentUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/agent$/);

    const ask = async (text: string) => {
      const socket = new WebSocket(relay.agentUrl);
      await new Promise((resolve, reject) => {
        socket.once("open", resolve);
        socket.once("error", reject);
      });
      const answer = new Promise<string>((resolve) => socket.once("message", (data) => resolve(String(data))));
      socket.send(text);
      const got = await answer;
      socket.close();
      return got;
    };
    expect(await ask("hello")).toBe("m1 /agent hello");
    current = second.url;
    expect(await ask("again")).toBe("m2 /agent again");
    expect(relay.relayed).toBe(2);
  });

  it("ends a guest's connection when the manager cannot be reached", async () => {
    const closed: Server = createServer();
    await new Promise<void>((resolve) => closed.listen(0, "127.0.0.1", () => resolve()));
    const { port } = closed.address() as { port: number };
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const lines: string[] = [];
    const relay = await openManagerRelay({
      host: "127.0.0.1",
      manager: () => `ws://127.0.0.1:${port}/host`,
      log: (line) => lines.push(line),
    });
    closing.push(() => relay.close());
    const socket = new WebSocket(relay.agentUrl);
    const error = await new Promise<Error>((resolve) => socket.once("error", resolve));
    expect(error.message).toMatch(/socket hang up|ECONNRESET/);
    expect(lines).toEqual([
      expect.stringMatching(/^relaying a guest's connection to 127\.0\.0\.1:\d+ ended: connect ECONNREFUSED/),
    ]);
  });
});
