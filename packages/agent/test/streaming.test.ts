import { DeviceChange, LifecyclePhase, MetricKind } from "@froctal/protocol";
import { afterEach, describe, expect, it } from "vitest";
import { testAgent } from "./agents.js";
import { appEvents, Cleanup, type Kind, startManager, waitFor } from "./harness.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

describe.each<Kind>(["ws", "unix"])("over %s", (kind) => {
  it("says hello with its identity, build and stream, and streams every kind of signal", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url, { runningGeneration: 7 }));
    const session = await agent.connected;
    expect(session.version).toBe(1);
    expect(agent.state).toBe("connected");
    const hello = m.ingest.hellos.get("web-1")!;
    expect(hello).toMatchObject({
      instanceId: "web-1",
      streamId: agent.streamId,
      runningGeneration: 7,
      build: { app: "web", appVersion: "1.2.3", agentVersion: "0.1.0", features: ["tls", "hotplug-nic"] },
    });

    agent.gauge("load", 0.75, "1");
    const served = agent.counter("requests", 10);
    served.add(5);
    expect(agent.device.added("eth1", "nic", { speed_mbps: 10_000 })).toBe(1);
    expect(agent.ready("listening on :8080")).toBe(2);
    expect(agent.event("cache.flushed", { entries: 12 })).toBe(3);

    await waitFor("3 events and 2 metrics", () => m.ingest.events.length === 3 && m.ingest.metrics("web-1").size === 2);
    const [device, ready, app] = m.ingest.events.map((r) => r.event);
    expect(device).toMatchObject({
      kind: "device",
      device: {
        change: DeviceChange.DEVICE_CHANGE_ADDED,
        deviceId: "eth1",
        kind: "nic",
        properties: { speed_mbps: "10000" },
      },
    });
    expect(ready).toMatchObject({ kind: "lifecycle", lifecycle: { phase: LifecyclePhase.LIFECYCLE_PHASE_READY } });
    expect(app?.kind).toBe("app");
    expect(appEvents(m.ingest)).toEqual([[3, "cache.flushed", { entries: 12 }]]);
    expect(Object.fromEntries(m.ingest.metrics("web-1"))).toEqual({
      load: { name: "load", kind: MetricKind.METRIC_KIND_GAUGE, unit: "1", value: 0.75 },
      requests: { name: "requests", kind: MetricKind.METRIC_KIND_COUNTER, unit: "", value: 15 },
    });
    await waitFor("acks", () => agent.stats.acked === 3);
    expect(agent.stats).toMatchObject({ queued: 3, sent: 3, resent: 0, buffered: 0, connects: 1, reconnects: 0 });
  });

  it("track() reports how a computation ended and hands back its outcome", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    await expect(agent.track(Promise.resolve({ rows: 3 }), "migrate")).resolves.toEqual({ rows: 3 });
    await expect(agent.track(Promise.reject(new Error("disk full")), "backup")).rejects.toThrow("disk full");
    expect(() => agent.track(Promise.resolve(1), "not a name")).toThrow(/task/);
    await waitFor("two exits", () => m.ingest.events.length === 2);
    const exits = m.ingest.events.map((r) => (r.event.kind === "lifecycle" ? r.event.lifecycle : undefined));
    expect(exits[0]).toMatchObject({
      phase: LifecyclePhase.LIFECYCLE_PHASE_EXITED,
      task: "migrate",
      result: { ok: true, code: 0, valueJson: '{"rows":3}', error: "" },
    });
    expect(exits[1]).toMatchObject({ task: "backup", result: { ok: false, code: 1, error: "disk full" } });
  });

  it("consume() turns every value of an async source into signals, until disposed", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = cleanup.add(testAgent(m.url));
    async function* nics() {
      yield { id: "eth1", speed: 1000 };
      yield { id: "eth2", speed: 10_000 };
    }
    const consumed = agent.consume(nics(), (nic, a) => a.device.added(nic.id, "nic", { speed_mbps: nic.speed }));
    await consumed.done;
    async function* load() {
      for (let i = 1; ; i++) {
        yield i;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    let calls = 0;
    const gauge = agent.consume(load(), (v) => {
      calls++;
      agent.gauge("load", v);
    });
    await waitFor("load samples", () => (m.ingest.metrics("web-1").get("load")?.value ?? 0) >= 3);
    gauge();
    await gauge.done;
    const seen = calls;
    await new Promise((r) => setTimeout(r, 30));
    expect(calls).toBe(seen);
    await waitFor("device events", () => m.ingest.events.length === 2);
    expect(m.ingest.events.map((r) => (r.event.kind === "device" ? r.event.device.deviceId : ""))).toEqual([
      "eth1",
      "eth2",
    ]);
  });

  it("close() flushes, waits for the acks, then refuses further signals", async () => {
    const m = cleanup.add(await startManager(kind));
    const agent = testAgent(m.url);
    for (let i = 0; i < 500; i++) agent.event("tick", i);
    agent.gauge("load", 9);
    const result = await agent.close();
    expect(result).toEqual({ unacked: 0 });
    expect(agent.state).toBe("closed");
    expect(appEvents(m.ingest)).toHaveLength(500);
    expect(m.ingest.metrics("web-1").get("load")?.value).toBe(9);
    expect(() => agent.event("late")).toThrow(expect.objectContaining({ code: "FROCTAL_E_CLOSED" }));
    expect(() => agent.gauge("load", 1)).toThrow(expect.objectContaining({ code: "FROCTAL_E_CLOSED" }));
    await expect(agent.close()).resolves.toEqual({ unacked: 0 });
  });
});

describe("close()", () => {
  it("releases every timer it armed and closes the connection", async () => {
    const { startRawManager } = await import("./raw-manager.js");
    const raw = cleanup.add(await startRawManager("ws"));
    const live = new Set<object>();
    const clock = {
      now: () => performance.now(),
      wallNow: () => Date.now(),
      setTimeout(fn: () => void, ms: number) {
        const token = {};
        live.add(token);
        const t = setTimeout(() => {
          live.delete(token);
          fn();
        }, ms);
        return () => {
          live.delete(token);
          clearTimeout(t);
        };
      },
    };
    const agent = testAgent(raw.url, { clock });
    agent.on("error", () => {});
    await agent.connected;
    agent.gauge("load", 1);
    agent.event("e");
    const consuming = agent.consume(
      (async function* () {
        await new Promise(() => {}); // a source that never yields
      })(),
      () => {},
    );
    expect(live.size).toBeGreaterThan(0);
    await agent.close();
    await consuming.done;
    expect(live.size).toBe(0);
    await waitFor("the connection closed", () => raw.connections[0]!.closed);
  });

  it("gives up waiting for acks after its timeout and says how many were lost", async () => {
    const { startRawManager, managerHello } = await import("./raw-manager.js");
    const raw = cleanup.add(
      await startRawManager("unix", (conn, frame) => {
        if (frame.frame === "hello") conn.send(managerHello()); // never acks
      }),
    );
    const agent = testAgent(raw.url);
    await agent.connected;
    for (let i = 0; i < 3; i++) agent.event("e", i);
    const started = Date.now();
    await expect(agent.close({ timeoutMs: 100 })).resolves.toEqual({ unacked: 3 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(95);
  });
});

describe("time", () => {
  it("stamps events and batches with wall time, and times its timers on the monotonic clock", async () => {
    const { startRawManager } = await import("./raw-manager.js");
    const raw = cleanup.add(await startRawManager("unix"));
    // The two timelines far apart, so a timestamp taken from the wrong one shows.
    const WALL = 1_767_225_600_000;
    const clock = {
      now: () => performance.now(),
      wallNow: () => WALL,
      setTimeout(fn: () => void, ms: number) {
        const t = setTimeout(fn, ms);
        return () => clearTimeout(t);
      },
    };
    const agent = cleanup.add(testAgent(raw.url, { clock }));
    await agent.connected;
    agent.event("e");
    agent.ready();
    const batches = () =>
      raw.connections[0]!.frames.flatMap((f) => (f.frame === "batch" && f.batch.events.length > 0 ? [f.batch] : []));
    await waitFor("a batch with both events", () => batches().flatMap((b) => b.events).length === 2);
    expect(batches().flatMap((b) => b.events.map((e) => e.atMs))).toEqual([WALL, WALL]);
    expect(batches().map((b) => b.sentAtMs)).toEqual(batches().map(() => WALL));
    await expect(agent.close()).resolves.toEqual({ unacked: 0 });
  });
});
