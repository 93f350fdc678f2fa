// Several manager addresses (a fleet with standby managers): only the leader has a port open, and the
// agent finds it by trying the next address. Real managers (@froctal/server) and real TCP listeners.
import { createServer, type Server } from "node:net";
import { VirtualClock } from "@froctal/primitives";
import { afterEach, describe, expect, it } from "vitest";
import { testAgent } from "./agents.js";
import { appEvents, Cleanup, freePort, sleep, startManager, waitFor } from "./harness.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const wsUrl = (port: number) => `ws://127.0.0.1:${port}/agent`;

/** A port where connections are accepted and cut at once (a manager that dies mid-handshake), counted in order. */
async function cuttingListener(name: string, log: string[]): Promise<{ port: number; close(): Promise<void> }> {
  const server: Server = createServer((socket) => {
    log.push(name);
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  return { port, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe("a list of manager addresses", () => {
  it("skips an address with no port open and connects to the next", async () => {
    const standby = await freePort(); // a standby manager: nothing listens
    const leader = cleanup.add(await startManager("ws"));
    const agent = cleanup.add(testAgent(`${wsUrl(standby)},${leader.url}`));
    agent.event("first", 1);
    await agent.connected;
    await waitFor("delivery", () => leader.ingest.events.length === 1);
    expect(appEvents(leader.ingest)).toEqual([[1, "first", 1]]);
    expect(leader.accepted).toBe(1);
    expect(agent.stats).toMatchObject({ connects: 1, reconnects: 0 });
  });

  it("follows the leader: when its manager dies it moves on, and connects where a manager comes up", async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const b = await startManager("ws", { port: portB });
    const agent = cleanup.add(testAgent(`${wsUrl(portA)},${wsUrl(portB)}`));
    const disconnects: unknown[] = [];
    agent.on("disconnect", (e) => disconnects.push(e));
    agent.event("to-b", 1);
    await agent.connected;
    await waitFor("acked by b", () => agent.stats.acked === 1);
    await b.close(); // the leader dies; its port closes with it
    await waitFor("disconnected", () => disconnects.length === 1);
    agent.event("to-a", 2);
    await sleep(100); // a few rounds over two dead addresses
    expect(agent.stats.connects).toBe(1);
    const a = cleanup.add(await startManager("ws", { port: portA })); // the standby takes over on its own port
    await waitFor("reconnected to a", () => agent.stats.connects === 2);
    // a knows nothing of the stream: it gets what b never acked, then the facts re-announced (the latest
    // event of each name), in one batch.
    await waitFor("delivery to a", () => a.ingest.events.length === 3);
    expect(appEvents(a.ingest)).toEqual([
      [2, "to-a", 2],
      [3, "to-b", 1],
      [4, "to-a", 2],
    ]);
    expect(a.batches.length).toBe(1);
    expect(a.ingest.hellos.get("web-1")?.streamId).toBe(agent.streamId);
    expect(appEvents(b.ingest)).toEqual([[1, "to-b", 1]]);
    await waitFor("acks", () => agent.stats.buffered === 0);
    expect(agent.stats).toMatchObject({ connects: 2, reconnects: 1 });
  });

  it("stays on the address that answers when its connection drops and the others are still dead", async () => {
    const dead = await freePort();
    const leader = cleanup.add(await startManager("ws"));
    const agent = cleanup.add(testAgent(`${leader.url},${wsUrl(dead)}`));
    await agent.connected;
    leader.drop(); // the connection is cut, the manager lives on
    await waitFor("reconnected", () => agent.stats.connects === 2);
    expect(leader.accepted).toBe(2);
    expect(agent.state).toBe("connected");
  });

  it("tries every address once a round and waits the backoff between rounds, so dead addresses do not spin", async () => {
    const seen: string[] = [];
    const [a, b, c] = [
      cleanup.add(await cuttingListener("a", seen)),
      cleanup.add(await cuttingListener("b", seen)),
      cleanup.add(await cuttingListener("c", seen)),
    ];
    const clock = new VirtualClock();
    const agent = cleanup.add(
      testAgent([a, b, c].map((l) => wsUrl(l.port)).join(","), {
        clock,
        random: () => 0.5,
        reconnect: { initialMs: 1_000, maxMs: 4_000 },
        closeTimeoutMs: 0,
      }),
    );
    // Within a round the next address is dialled at once (a 0 ms timer on the agent's clock).
    for (const count of [1, 2, 3]) {
      await waitFor(`connection ${count}`, () => seen.length === count && agent.state === "waiting");
      clock.advance(0);
    }
    await sleep(100);
    expect(seen).toEqual(["a", "b", "c"]); // the round is over: nothing until the backoff (0.5 * 1,000 ms) passes
    clock.advance(499);
    await sleep(50);
    expect(seen).toHaveLength(3);
    clock.advance(1);
    await waitFor("the second round's first attempt", () => seen.length === 4);
    expect(seen).toEqual(["a", "b", "c", "a"]);
  });
});
