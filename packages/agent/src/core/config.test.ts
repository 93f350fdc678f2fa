import { ConfigAckStatus, decodeManagerFrame, encodeManagerFrame, type ManagerFrame } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { type Ack, type ConfigHandler, ConfigMachine, configCommandOf, decodeConfig } from "./config.js";

const { CONFIG_ACK_STATUS_PREPARED: PREPARED, CONFIG_ACK_STATUS_NACKED: NACKED } = ConfigAckStatus;
const { CONFIG_ACK_STATUS_COMMITTED: COMMITTED, CONFIG_ACK_STATUS_ABORTED: ABORTED } = ConfigAckStatus;

const json = (value: unknown) => new TextEncoder().encode(JSON.stringify(value));

function machine(handler?: ConfigHandler<{ routes?: string[] }>, running = 0) {
  const acks: Ack[] = [];
  const errors: Error[] = [];
  const applied: unknown[] = [];
  const m = new ConfigMachine({
    runningGeneration: running,
    send: (ack) => acks.push(ack),
    report: (e) => errors.push(e),
  });
  if (handler) m.setHandler(handler as ConfigHandler);
  const prepare = (generation: number, nonce: string, config: unknown = { routes: [] }, mediaType = "") =>
    m.handle({ kind: "prepare", generation, nonce, config: json(config), mediaType });
  const commit = (generation: number, nonce: string) => m.handle({ kind: "commit", generation, nonce });
  const abort = (generation: number, nonce: string) => m.handle({ kind: "abort", generation, nonce });
  const statuses = () => acks.map((a) => [a.generation, a.status, a.runningGeneration]);
  return { m, acks, errors, applied, prepare, commit, abort, statuses };
}

describe("ConfigMachine", () => {
  it("prepares, then commits: only commit moves the running generation", async () => {
    const applied: unknown[] = [];
    const t = machine({ commit: (c) => void applied.push(c) });
    await t.prepare(3, "n3", { routes: ["a"] });
    expect(t.m.runningGeneration).toBe(0);
    await t.commit(3, "n3");
    expect(t.m.runningGeneration).toBe(3);
    expect(applied).toEqual([{ routes: ["a"] }]);
    expect(t.statuses()).toEqual([
      [3, PREPARED, 0],
      [3, COMMITTED, 3],
    ]);
  });

  it("nacks with the reason a prepare returns or throws, and keeps running what it ran", async () => {
    const t = machine(
      {
        prepare: (c) => (c.routes?.includes("bad") ? "route 'bad' is not reachable" : undefined),
        commit: () => {},
      },
      2,
    );
    await t.prepare(3, "n3", { routes: ["bad"] });
    expect(t.acks[0]).toMatchObject({ status: NACKED, reason: "route 'bad' is not reachable", runningGeneration: 2 });
    const u = machine({
      prepare: async () => {
        throw new Error("disk full");
      },
      commit: () => {},
    });
    await u.prepare(1, "n1");
    expect(u.acks[0]).toMatchObject({ status: NACKED, reason: "disk full" });
    await u.commit(1, "n1"); // nothing prepared: stale
    expect(u.m.runningGeneration).toBe(0);
  });

  it("nacks a config that is not JSON, and one nobody handles", async () => {
    const t = machine({ commit: () => {} });
    await t.m.handle({ kind: "prepare", generation: 1, nonce: "n", config: new Uint8Array([123]), mediaType: "" });
    expect(t.acks[0]).toMatchObject({ status: NACKED, reason: expect.stringContaining("not valid JSON") });
    const none = machine();
    await none.prepare(1, "n");
    expect(none.acks[0]).toMatchObject({ status: NACKED, reason: expect.stringContaining("onConfig") });
  });

  it("aborts the prepared generation, calling abort, and keeps the old one", async () => {
    const aborted: number[] = [];
    const t = machine({ commit: () => {}, abort: (g) => void aborted.push(g) }, 1);
    await t.prepare(2, "n2");
    await t.abort(2, "n2");
    expect(aborted).toEqual([2]);
    expect(t.statuses()).toEqual([
      [2, PREPARED, 1],
      [2, ABORTED, 1],
    ]);
    await t.commit(2, "n2"); // after abort: stale
    expect(t.m.runningGeneration).toBe(1);
  });

  it("never half-applies: a commit that throws keeps the previous generation and reports it", async () => {
    const aborted: number[] = [];
    const t = machine(
      {
        commit: () => {
          throw new Error("swap failed");
        },
        abort: (g) => void aborted.push(g),
      },
      4,
    );
    await t.prepare(5, "n5");
    await t.commit(5, "n5");
    expect(t.m.runningGeneration).toBe(4);
    expect(aborted).toEqual([5]);
    expect(t.acks[1]).toMatchObject({
      status: NACKED,
      runningGeneration: 4,
      reason: expect.stringContaining("swap failed"),
    });
    expect(t.errors[0]).toMatchObject({ code: "FROCTAL_E_CONFIG_NACK" });
  });

  it("ignores stale generations and nonces, and answers duplicates the same way again", async () => {
    const t = machine({ commit: () => {} }, 5);
    await t.prepare(5, "old"); // not above the running generation
    await t.prepare(4, "older");
    expect(t.acks).toEqual([]);
    await t.prepare(6, "a");
    await t.commit(6, "not-a"); // wrong nonce
    await t.abort(6, "not-a");
    expect(t.statuses()).toEqual([[6, PREPARED, 5]]);
    await t.prepare(6, "a"); // re-delivered after a reconnect
    await t.commit(6, "a");
    await t.commit(6, "a");
    expect(t.statuses()).toEqual([
      [6, PREPARED, 5],
      [6, PREPARED, 5],
      [6, COMMITTED, 6],
      [6, COMMITTED, 6],
    ]);
    await t.prepare(6, "a"); // after commit: stale
    expect(t.acks).toHaveLength(4);
  });

  it("a newer prepare replaces an older prepared one; an older one is stale", async () => {
    const aborted: number[] = [];
    const t = machine({ commit: () => {}, abort: (g) => void aborted.push(g) });
    await t.prepare(2, "n2");
    await t.prepare(3, "n3");
    expect(aborted).toEqual([2]);
    await t.prepare(2, "n2b");
    await t.commit(2, "n2");
    await t.commit(3, "n3");
    expect(t.m.runningGeneration).toBe(3);
  });

  it("handles commands one at a time: a commit waits for a slow prepare", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const t = machine({ prepare: () => gate, commit: () => {} });
    const p = t.prepare(1, "n");
    const c = t.commit(1, "n");
    release();
    await Promise.all([p, c]);
    expect(t.statuses()).toEqual([
      [1, PREPARED, 0],
      [1, COMMITTED, 1],
    ]);
  });
});

describe("decodeConfig", () => {
  it("reads JSON for an empty or JSON media type and passes other bytes through", () => {
    expect(decodeConfig(json({ a: 1 }), "")).toEqual({ a: 1 });
    expect(decodeConfig(json([1]), "application/json; charset=utf-8")).toEqual([1]);
    const raw = new Uint8Array([0xff, 0]);
    expect(decodeConfig(raw, "application/octet-stream")).toBe(raw);
    expect(() => decodeConfig(raw, "")).toThrow(/UTF-8/);
  });
});

describe("configCommandOf", () => {
  const decoded = (frame: ManagerFrame) => decodeManagerFrame(encodeManagerFrame(frame));

  it("reads the command a decoded frame carries, and nothing from other frames", () => {
    const config = json({ routes: ["a"] });
    const prepare = decoded({ prepare: { generation: 4, nonce: "g4-1", config, mediaType: "", timeoutMs: 100 } });
    const command = configCommandOf(prepare);
    // Decoded bytes are a Buffer, a Uint8Array by another class: compare the bytes.
    const bytes = command?.kind === "prepare" ? [...command.config] : [];
    expect({ ...command, config: bytes }).toEqual({
      kind: "prepare",
      generation: 4,
      nonce: "g4-1",
      config: [...config],
      mediaType: "",
    });
    expect(configCommandOf(decoded({ commit: { generation: 4, nonce: "g4-1" } }))).toEqual({
      kind: "commit",
      generation: 4,
      nonce: "g4-1",
    });
    expect(configCommandOf(decoded({ abort: { generation: 4, nonce: "g4-1" } }))).toEqual({
      kind: "abort",
      generation: 4,
      nonce: "g4-1",
    });
    expect(configCommandOf(decoded({ ack: { seq: 3 } }))).toBeUndefined();
    expect(configCommandOf(decoded({ ping: { nonce: 1 } }))).toBeUndefined();
  });
});
