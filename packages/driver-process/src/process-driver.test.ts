import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Clock, Driver } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  driverWithLog,
  fixture,
  fixturesDir,
  isAlive,
  pidOf,
  record,
  rejection,
  specFor,
  TEST_FLEET,
} from "../test/helpers.js";
import type { ProcessDriverOptions } from "./options.js";
import { createProcessDriver } from "./process-driver.js";

const open: Driver[] = [];

const withLog = (options: ProcessDriverOptions = {}) => driverWithLog(open, options);

afterEach(async () => {
  await Promise.all(open.splice(0).map((driver) => driver.close()));
});

describe("process driver: launching", () => {
  it("hands the spec's env and args to the guest over a minimal inherited env", async () => {
    process.env.FROCTAL_TEST_LEAK = "manager only";
    try {
      const { driver, lines } = withLog();
      const spec = specFor("env.mjs", {
        env: { FROCTAL_INSTANCE_ID: "i-1", FROCTAL_TOKEN: "t0ken", PATH: "/nowhere:/usr/bin" },
        args: ["--port", "8080"],
      });
      await driver.start(spec);
      await vi.waitFor(() => expect(lines).toHaveLength(1));
      const seen = JSON.parse(lines[0]!.line) as { env: Record<string, string>; args: string[] };
      expect(lines[0]).toMatchObject({ instanceId: spec.instanceId, stream: "stdout" });
      expect(seen.args).toEqual(["--port", "8080"]);
      expect(seen.env.FROCTAL_INSTANCE_ID).toBe("i-1");
      expect(seen.env.FROCTAL_TOKEN).toBe("t0ken");
      expect(seen.env.PATH).toBe("/nowhere:/usr/bin");
      expect(seen.env.FROCTAL_TEST_LEAK).toBeUndefined();
      expect(seen.env.NODE_OPTIONS).toBeUndefined();
      // The lifeline preload takes its variable away from the guest.
      expect(seen.env.FROCTAL_LIFELINE).toBeUndefined();
    } finally {
      delete process.env.FROCTAL_TEST_LEAK;
    }
  });

  it("resolves a relative image against imageRoot", async () => {
    const { driver, lines } = withLog({ imageRoot: fixturesDir });
    await driver.start(specFor("graceful.mjs", { image: "graceful.mjs" }));
    await vi.waitFor(() => expect(lines.map((l) => l.line)).toEqual(["ready"]));
  });

  it("reports started, then exited with the exit code, and logs what the guest printed first", async () => {
    const { driver, lines } = withLog();
    const { events, of } = record(driver);
    const spec = specFor("exit3.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(of(spec.instanceId)).toHaveLength(2));
    const [started, exited] = of(spec.instanceId);
    expect(started).toMatchObject({ kind: "started", instanceId: spec.instanceId });
    expect(started?.detail).toContain(spec.image);
    expect(exited).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: false,
      code: 3,
      detail: "exited with code 3",
    });
    expect(lines).toEqual([{ instanceId: spec.instanceId, stream: "stderr", line: "giving up" }]);
    expect(events).toHaveLength(2);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
  });

  it("reports a crash as exited, not requested", async () => {
    const { driver, lines } = withLog();
    const { of } = record(driver);
    const spec = specFor("crash.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(of(spec.instanceId)).toHaveLength(2));
    expect(of(spec.instanceId)[1]).toMatchObject({ kind: "exited", requested: false, code: 1 });
    expect(lines.some((l) => l.stream === "stderr" && l.line.includes("guest crashed on purpose"))).toBe(true);
  });

  it("rejects a missing image with FROCTAL_E_CONFIG naming the path, and reports nothing", async () => {
    const { driver } = withLog();
    const { events } = record(driver);
    const spec = specFor("env.mjs", { image: fixture("no-such-guest.mjs") });
    const error = await rejection(driver.start(spec));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.message).toContain(fixture("no-such-guest.mjs"));
    expect(error.message).toContain("does not exist");
    expect(events).toEqual([]);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
    // Nothing was left behind: the same instance can be started once the image is right.
    await driver.start({ ...spec, image: fixture("graceful.mjs") });
    expect(await driver.list(TEST_FLEET)).toHaveLength(1);
  });

  it("rejects a directory as image", async () => {
    const { driver } = withLog();
    const error = await rejection(driver.start(specFor("env.mjs", { image: fixturesDir })));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.message).toContain("is not a file");
  });

  it("rejects with FROCTAL_E_CONFIG when the Node binary cannot be executed, and reports nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "froctal-driver-"));
    try {
      const notExecutable = join(dir, "node");
      await writeFile(notExecutable, "not a program");
      await chmod(notExecutable, 0o644);
      const { driver } = withLog({ execPath: notExecutable });
      const { events } = record(driver);
      const error = await rejection(driver.start(specFor("env.mjs")));
      expect(error.code).toBe("FROCTAL_E_CONFIG");
      expect(error.message).toContain(notExecutable);
      expect(error.message).toContain("EACCES");
      expect(events).toEqual([]);
      expect(await driver.list(TEST_FLEET)).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("starts an instance once however often start() is called", async () => {
    const { driver } = withLog();
    const { of } = record(driver);
    const spec = specFor("graceful.mjs");
    await Promise.all([driver.start(spec), driver.start(spec), driver.start(spec)]);
    await driver.start(spec);
    expect(of(spec.instanceId)).toHaveLength(1);
    expect(await driver.list(TEST_FLEET)).toHaveLength(1);
  });
});

describe("process driver: stopping", () => {
  it("stops with SIGTERM: requested, the guest's own exit code, resolved once it is gone", async () => {
    const { driver, lines } = withLog();
    const { of } = record(driver);
    const spec = specFor("graceful.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(lines.map((l) => l.line)).toEqual(["ready"]));
    const pid = pidOf(of(spec.instanceId)[0]);
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
    expect(of(spec.instanceId)[1]).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: true,
      code: 0,
      detail: "stopped on request: exited with code 0",
    });
    expect(lines.map((l) => l.line)).toEqual(["ready", "stopping"]);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
  });

  it("kills a guest that ignores SIGTERM after graceMs, timed by the injected clock", async () => {
    const delays: number[] = [];
    const clock: Clock = {
      now: systemClock.now,
      wallNow: systemClock.wallNow,
      setTimeout: (fn, ms) => {
        delays.push(ms);
        return systemClock.setTimeout(fn, ms);
      },
    };
    const { driver, lines } = withLog({ clock });
    const { of } = record(driver);
    const spec = specFor("stubborn.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(lines.map((l) => l.line)).toEqual(["ready"]));
    const pid = pidOf(of(spec.instanceId)[0]);
    const before = performance.now();
    await driver.stop(spec.instanceId, { graceMs: 300 });
    expect(performance.now() - before).toBeGreaterThanOrEqual(290);
    expect(delays).toContain(300);
    expect(isAlive(pid)).toBe(false);
    expect(lines.map((l) => l.line)).toEqual(["ready", "ignoring SIGTERM"]);
    expect(of(spec.instanceId)[1]).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: true,
      code: null,
      detail: "stopped on request: killed by SIGKILL after its 300 ms grace period",
    });
  });

  it("treats stop() of an instance that does not run as done", async () => {
    const { driver } = withLog();
    const { events } = record(driver);
    await driver.stop("never-started", { graceMs: 100 });
    const spec = specFor("exit3.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(events).toHaveLength(2));
    await driver.stop(spec.instanceId, { graceMs: 100 });
    expect(events.map((e) => e.kind)).toEqual(["started", "exited"]);
  });

  it("stops once however often stop() is called", async () => {
    const { driver } = withLog();
    const { of } = record(driver);
    const spec = specFor("graceful.mjs");
    await driver.start(spec);
    await Promise.all([
      driver.stop(spec.instanceId, { graceMs: 1000 }),
      driver.stop(spec.instanceId, { graceMs: 1000 }),
    ]);
    await driver.stop(spec.instanceId, { graceMs: 1000 });
    expect(of(spec.instanceId).map((e) => e.kind)).toEqual(["started", "exited"]);
  });

  it("stops an instance whose start is still in flight", async () => {
    const { driver } = withLog();
    const { of } = record(driver);
    const spec = specFor("graceful.mjs");
    const starting = driver.start(spec);
    await driver.stop(spec.instanceId, { graceMs: 1000 });
    await starting;
    const [started, exited] = of(spec.instanceId);
    expect(isAlive(pidOf(started))).toBe(false);
    expect(exited).toMatchObject({ kind: "exited", requested: true });
    expect(await driver.list(TEST_FLEET)).toEqual([]);
  });

  it("starts an instance afresh when start() comes while it is being stopped", async () => {
    const { driver } = withLog();
    const { of } = record(driver);
    const spec = specFor("stubborn.mjs");
    await driver.start(spec);
    const stopping = driver.stop(spec.instanceId, { graceMs: 200 });
    await driver.start(spec);
    await stopping;
    const events = of(spec.instanceId);
    expect(events.map((e) => e.kind)).toEqual(["started", "exited", "started"]);
    expect(isAlive(pidOf(events[0]))).toBe(false);
    expect(isAlive(pidOf(events[2]))).toBe(true);
    expect(await driver.list(TEST_FLEET)).toHaveLength(1);
  });

  it("refuses a grace period that is not a finite number >= 0", async () => {
    const { driver } = withLog();
    for (const graceMs of [Number.NaN, -1, Number.POSITIVE_INFINITY]) {
      expect((await rejection(driver.stop("any", { graceMs }))).code).toBe("FROCTAL_E_CONFIG");
    }
  });
});

describe("process driver: list, watch, close", () => {
  it("lists the running instances of one fleet id, not those of another fleet of the same name", async () => {
    const { driver } = withLog();
    const blue = { name: "blue", id: "b1a1b1a1b1a1b1a1b1a1b1a1b1a1b1a1" };
    const otherBlue = { name: "blue", id: "b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2b2" };
    const a = specFor("graceful.mjs", { fleet: "blue", fleetId: blue.id, service: "web" });
    const b = specFor("graceful.mjs", { fleet: "blue", fleetId: blue.id, service: "lb" });
    const c = specFor("graceful.mjs", { fleet: "blue", fleetId: otherBlue.id });
    const d = specFor("graceful.mjs", { fleet: "green", fleetId: "9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e9e" });
    await Promise.all([driver.start(a), driver.start(b), driver.start(c), driver.start(d)]);
    const listed = await driver.list(blue);
    expect([...listed].sort((x, y) => x.instanceId.localeCompare(y.instanceId))).toEqual(
      [
        { instanceId: a.instanceId, fleet: "blue", fleetId: blue.id, service: "web", state: "running" },
        { instanceId: b.instanceId, fleet: "blue", fleetId: blue.id, service: "lb", state: "running" },
      ].sort((x, y) => x.instanceId.localeCompare(y.instanceId)),
    );
    expect((await driver.list(otherBlue)).map((i) => i.instanceId)).toEqual([c.instanceId]);
    await driver.stop(a.instanceId, { graceMs: 1000 });
    expect((await driver.list(blue)).map((i) => i.instanceId)).toEqual([b.instanceId]);
    expect(await driver.list({ name: "red", id: "4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e4e" })).toEqual([]);
  });

  it("stops reporting to a listener once its disposer is called", async () => {
    const { driver } = withLog();
    const kept = record(driver);
    const dropped: string[] = [];
    const dispose = driver.watch((event) => dropped.push(event.kind));
    const first = specFor("exit3.mjs");
    await driver.start(first);
    await vi.waitFor(() => expect(dropped).toEqual(["started", "exited"]));
    dispose();
    dispose();
    const second = specFor("exit3.mjs");
    await driver.start(second);
    await vi.waitFor(() => expect(kept.of(second.instanceId)).toHaveLength(2));
    expect(dropped).toEqual(["started", "exited"]);
  });

  it("close() stops every guest it started, SIGKILLing the stubborn, and leaves no process behind", async () => {
    const driver = createProcessDriver({ closeGraceMs: 200 });
    const { events } = record(driver);
    const specs = [specFor("graceful.mjs"), specFor("stubborn.mjs"), specFor("env.mjs")];
    await Promise.all(specs.map((spec) => driver.start(spec)));
    // One more still launching when close() is called: it is refused, not left behind.
    const late = rejection(driver.start(specFor("graceful.mjs")));
    const pids = events.map(pidOf);
    expect(pids).toHaveLength(3);
    await driver.close();
    expect((await late).code).toBe("FROCTAL_E_CLOSED");
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
    // close() stopped watching first: the exits were not reported.
    expect(events.map((e) => e.kind)).toEqual(["started", "started", "started"]);
    const error = await rejection(driver.start(specFor("graceful.mjs")));
    expect(error.code).toBe("FROCTAL_E_CLOSED");
    await driver.close();
  });
});

describe("process driver: guest output", () => {
  it("cuts a very long line, keeps the next ones, and flushes a last partial line before exited", async () => {
    const { driver, lines } = withLog({ maxLineBytes: 1000 });
    const order: string[] = [];
    driver.watch((event) => order.push(event.kind));
    const spec = specFor("long-line.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(lines).toHaveLength(2));
    expect(lines[0]?.line).toBe(`${"x".repeat(1000)}… [line of 1048576 bytes cut to 1000]`);
    expect(lines[1]?.line).toBe("after");
    await driver.stop(spec.instanceId, { graceMs: 1000 });
    expect(lines.map((l) => l.line).slice(2)).toEqual(["no newline at the end"]);
    expect(order).toEqual(["started", "exited"]);
  });

  it("never mixes two guests' lines, though they write in halves at the same time", async () => {
    const { driver, lines } = withLog();
    const { of } = record(driver);
    const a = specFor("chatter.mjs", { args: ["alpha", "300"] });
    const b = specFor("chatter.mjs", { args: ["beta", "300"] });
    await Promise.all([driver.start(a), driver.start(b)]);
    await vi.waitFor(() => {
      expect(of(a.instanceId)).toHaveLength(2);
      expect(of(b.instanceId)).toHaveLength(2);
    });
    for (const [spec, name] of [
      [a, "alpha"],
      [b, "beta"],
    ] as const) {
      const own = lines.filter((l) => l.instanceId === spec.instanceId).map((l) => l.line);
      expect(own).toHaveLength(300);
      own.forEach((line, i) => {
        expect(line).toBe(`${name}:${i}:${"-".repeat(i % 50)}`);
      });
    }
  });
});
