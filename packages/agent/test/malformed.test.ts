import { encodeManagerFrame } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import type { FroctalError } from "../src/index.js";
import { testAgent } from "./agents.js";
import { Cleanup, type Kind, waitFor } from "./harness.js";
import { managerHello, polite, type RawConnection, startRawManager } from "./raw-manager.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

/** A manager that misbehaves on its first connection with `misbehave`, and is polite on the next ones. */
async function misbehaving(kind: Kind, misbehave: (conn: RawConnection) => void) {
  let first = true;
  return startRawManager(kind, (conn, frame) => {
    if (frame.frame === "hello" && first) {
      first = false;
      misbehave(conn);
      return;
    }
    polite(conn, frame);
  });
}

const truncated = encodeManagerFrame(managerHello()).subarray(0, 5);

const cases: [string, (conn: RawConnection) => void, string][] = [
  [
    "bytes that do not decode",
    (c) => c.sendFrameBytes(new Uint8Array([0x0a, 0xff, 0xff, 0x01])),
    "FROCTAL_E_FRAME_MALFORMED",
  ],
  ["a truncated frame", (c) => c.sendFrameBytes(truncated), "FROCTAL_E_FRAME_MALFORMED"],
  ["an empty frame", (c) => c.sendFrameBytes(new Uint8Array(0)), "FROCTAL_E_FRAME_INVALID"],
  [
    "a frame that breaks the contract",
    (c) => c.send({ hello: { version: 1, sessionId: "x".repeat(500) } }),
    "FROCTAL_E_FRAME_INVALID",
  ],
  ["an ack before the hello", (c) => c.send({ ack: { seq: 3 } }), "FROCTAL_E_FRAME_UNEXPECTED"],
  [
    "a second hello",
    (c) => {
      c.send(managerHello());
      c.send(managerHello());
    },
    "FROCTAL_E_FRAME_UNEXPECTED",
  ],
  ["a version the agent does not speak", (c) => c.send(managerHello({ version: 99 })), "FROCTAL_E_VERSION"],
];

describe.each<Kind>(["ws", "unix"])("a misbehaving manager over %s", (kind) => {
  it.each(cases.filter(([, , code]) => code !== "FROCTAL_E_VERSION"))(
    "%s: the agent reports it, drops the connection and reconnects",
    async (_what, misbehave, code) => {
      const raw = cleanup.add(await misbehaving(kind, misbehave));
      const agent = cleanup.add(testAgent(raw.url));
      const errors: FroctalError[] = [];
      agent.on("error", (e) => errors.push(e));
      agent.event("survives", 1);
      await agent.connected;
      await waitFor("delivery on the second connection", () => agent.stats.acked === 1);
      expect(errors.map((e) => e.code)).toEqual([code]);
      expect(raw.connections.length).toBe(2);
      await waitFor("the bad connection closed", () => raw.connections[0]!.closed);
    },
  );

  it("a version the agent does not speak is terminal", async () => {
    const raw = cleanup.add(await misbehaving(kind, (c) => c.send(managerHello({ version: 99 }))));
    const agent = cleanup.add(testAgent(raw.url));
    await expect(agent.connected).rejects.toMatchObject({ code: "FROCTAL_E_VERSION" });
    expect(agent.state).toBe("failed");
  });

  it(kind === "ws" ? "a text message" : "a frame length over the limit", async () => {
    const raw = cleanup.add(
      await misbehaving(kind, (c) =>
        c.sendGarbage(kind === "ws" ? new TextEncoder().encode("hi") : new Uint8Array([0xff, 0xff, 0xff, 0x7f])),
      ),
    );
    const agent = cleanup.add(testAgent(raw.url));
    const errors: FroctalError[] = [];
    agent.on("error", (e) => errors.push(e));
    await agent.connected;
    expect(raw.connections.length).toBe(2);
    expect(errors.map((e) => e.code)).toEqual([
      kind === "ws" ? "FROCTAL_E_FRAME_MALFORMED" : "FROCTAL_E_FRAME_TOO_LARGE",
    ]);
    await waitFor("the bad connection closed", () => raw.connections[0]!.closed);
  });
});

describe("listeners", () => {
  it("one that throws stops neither the others nor the agent, and is not reported again as an error", async () => {
    const raw = cleanup.add(
      await misbehaving("unix", (c) => c.sendFrameBytes(new Uint8Array([0x0a, 0xff, 0xff, 0x01]))),
    );
    const agent = cleanup.add(testAgent(raw.url));
    const errors: string[] = [];
    const connects: string[] = [];
    agent.on("error", () => {
      throw new Error("a buggy error listener");
    });
    agent.on("error", (e) => errors.push(e.code));
    agent.on("connect", () => {
      throw new Error("a buggy connect listener");
    });
    agent.on("connect", (s) => connects.push(s.sessionId));
    agent.event("survives", 1);
    await agent.connected;
    await waitFor("delivery on the second connection", () => agent.stats.acked === 1);
    expect(errors).toEqual(["FROCTAL_E_FRAME_MALFORMED"]);
    expect(connects).toEqual(["raw"]);
    expect(agent.stats.errors).toBe(1);
  });
});
