/**
 * Keep mode launching (the host daemon's): guests without a lifeline, their
 * output in files, a record for each, and a close() that leaves them running.
 * Adoption by a later driver: process-driver.adopt.test.ts.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Driver } from "@froctal/manager";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  commandSpec,
  fixture,
  groupOf,
  isAlive,
  pidOf,
  record,
  rejection,
  specFor,
  TEST_FLEET,
} from "../test/helpers.js";
import { argvOf, envNamesOf, KeepPlace, startTimeOf } from "../test/keep-helpers.js";
import type { GuestRecords, KeptGuest } from "./kept.js";
import { createProcessDriver } from "./process-driver.js";

let place: KeepPlace;
const open: Driver[] = [];

beforeEach(async () => {
  place = await KeepPlace.make();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((driver) => driver.close()));
  await place.cleanup();
});

/** A keep-mode driver in this process; every guest it starts is killed after the test if it still runs. */
function keepingDriver(records: GuestRecords = place.records) {
  const lines: string[] = [];
  const driver = createProcessDriver({
    keep: { ...place.keep(), records },
    inheritEnv: ["PATH"],
    log: (_id, _stream, line) => lines.push(line),
  });
  open.push(driver);
  const recorded = record(driver);
  driver.watch((event) => {
    if (event.kind === "started") place.killLater(pidOf(event));
  });
  return { driver, lines, ...recorded };
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("process driver, keep mode: launching", () => {
  it("runs an image without the lifeline, records it, and appends its output to its log file", async () => {
    const { driver, lines, of } = keepingDriver();
    const spec = specFor("graceful.mjs", { env: { FROCTAL_TOKEN: "t0ken-2" }, args: ["--x"] });
    await driver.start(spec);
    const pid = pidOf(of(spec.instanceId)[0]);
    expect(argvOf(pid)).toEqual([process.execPath, fixture("graceful.mjs"), "--x"]);
    // The same env rules as with a lifeline (this driver inherits PATH alone), and no FROCTAL_LIFELINE.
    expect(envNamesOf(pid).sort()).toEqual(["FROCTAL_TOKEN", "PATH"]);
    expect(place.records.all()).toEqual([
      {
        instanceId: spec.instanceId,
        fleet: TEST_FLEET.name,
        fleetId: TEST_FLEET.id,
        service: "graceful.mjs",
        pid,
        startTime: startTimeOf(pid),
        token: "t0ken-2",
      },
    ]);
    await vi.waitFor(async () => expect(await place.log(spec.instanceId)).toBe("ready\n"));
    // A child of this driver: its exit takes the usual path, exit code included.
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(of(spec.instanceId)[1]).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: true,
      code: 0,
      detail: "stopped on request: exited with code 0",
    });
    expect(place.records.all()).toEqual([]);
    expect(await place.log(spec.instanceId)).toBe("ready\nstopping\n");
    // The output went to the file, not to the log sink.
    expect(lines).toEqual([]);
    // Started again, the same instance appends to the same file.
    await driver.start(spec);
    await vi.waitFor(async () => expect(await place.log(spec.instanceId)).toBe("ready\nstopping\nready\n"));
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(await place.log(spec.instanceId)).toBe("ready\nstopping\nready\nstopping\n");
  });

  it("reports a guest that exits on its own with its exit code and deletes its record", async () => {
    const { driver, of } = keepingDriver();
    const spec = specFor("exit3.mjs");
    await driver.start(spec);
    await vi.waitFor(() => expect(of(spec.instanceId)).toHaveLength(2));
    expect(of(spec.instanceId)[1]).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: false,
      code: 3,
      detail: "exited with code 3",
    });
    expect(place.records.all()).toEqual([]);
    expect(await place.log(spec.instanceId)).toBe("giving up\n");
  });

  it("execs a command directly: no sh, no watcher in its process group", async () => {
    const { driver, of } = keepingDriver();
    const spec = commandSpec([process.execPath, fixture("graceful.mjs"), "a b"]);
    await driver.start(spec);
    const pid = pidOf(of(spec.instanceId)[0]);
    expect(of(spec.instanceId)[0]?.detail).toBe(`pid ${pid} runs ${process.execPath}`);
    expect(argvOf(pid)).toEqual([process.execPath, fixture("graceful.mjs"), "a b"]);
    expect(groupOf(pid)).toEqual([pid]);
    expect(place.records.all().map((kept) => [kept.pid, kept.token])).toEqual([[pid, ""]]);
    await vi.waitFor(async () => expect(await place.log(spec.instanceId)).toBe("ready\n"));
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
  });

  it("refuses an instance id that would put its log file elsewhere", async () => {
    const { driver, events } = keepingDriver();
    const error = await rejection(driver.start(specFor("graceful.mjs", { instanceId: "../escape" })));
    expect(error.code).toBe("FROCTAL_E_CONFIG");
    expect(error.message).toBe(
      'FROCTAL_E_CONFIG: instance "../escape" cannot be kept: its id names its log file and may not hold "/" or NUL',
    );
    expect(events).toEqual([]);
    expect(place.records.all()).toEqual([]);
    expect(existsSync(join(place.dir, "escape.log"))).toBe(false);
  });

  it("kills a guest it cannot record, and fails the start", async () => {
    const tried: KeptGuest[] = [];
    const { driver, events } = keepingDriver({
      all: () => [],
      put: (guest) => {
        tried.push(guest);
        throw new Error("disk full");
      },
      delete: () => {},
    });
    const spec = specFor("graceful.mjs");
    const error = await rejection(driver.start(spec));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    expect(error.retryable).toBe(true);
    expect(tried.map((guest) => guest.instanceId)).toEqual([spec.instanceId]);
    const pid = tried[0]!.pid;
    await vi.waitFor(() => expect(isAlive(pid)).toBe(false));
    await settle(100);
    expect(events).toEqual([]);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
  });
});

describe("process driver, keep mode: close() and the driver's process", () => {
  it("close() releases the driver and leaves its guests running, their records kept for the next one", async () => {
    const { driver, events, of } = keepingDriver();
    const spec = specFor("graceful.mjs");
    await driver.start(spec);
    const pid = pidOf(of(spec.instanceId)[0]);
    await driver.close();
    await settle(200);
    expect(isAlive(pid)).toBe(true);
    expect(place.records.all().map((kept) => kept.pid)).toEqual([pid]);
    expect(events).toHaveLength(1);
    expect((await rejection(driver.start(specFor("graceful.mjs")))).code).toBe("FROCTAL_E_CLOSED");

    const next = createProcessDriver({ keep: place.keep() });
    open.push(next);
    expect(await next.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    await next.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
    expect(place.records.all()).toEqual([]);
    // The closed driver, whose child it was, reported nothing and deleted nothing.
    expect(events).toHaveLength(1);
  });

  it("does not keep the driver's process alive: it exits on its own once closed, its guest running on", async () => {
    const spec = specFor("graceful.mjs");
    const { driver, pid } = await place.startInProcess(spec, "close");
    const code = await new Promise((resolve) => driver.once("exit", resolve));
    expect(code).toBe(0);
    await settle(200);
    expect(isAlive(pid)).toBe(true);
    expect(place.records.all().map((kept) => kept.pid)).toEqual([pid]);
  });
});
