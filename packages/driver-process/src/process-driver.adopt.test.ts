import type { Driver } from "@froctal/manager";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { fixture, isAlive, record, rejection, specFor, TEST_FLEET } from "../test/helpers.js";
import { argvOf, envNamesOf, KeepPlace, startTimeOf } from "../test/keep-helpers.js";
import type { KeptGuest } from "./kept.js";
import { createProcessDriver } from "./process-driver.js";

const UNKNOWN = "the exit code of an adopted guest is unknown";

let place: KeepPlace;
const open: Driver[] = [];

beforeEach(async () => {
  place = await KeepPlace.make();
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((driver) => driver.close()));
  await place.cleanup();
});

/** A keep-mode driver in this process, over the test's records: a restarted host daemon. */
function restartedDriver() {
  const driver = createProcessDriver({ keep: place.keep() });
  open.push(driver);
  return driver;
}

/** Settles a little, so that a guest meant to die (a lifeline, a wrong signal) has had the time to. */
const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("process driver, keep mode: adoption after the driver's process died", () => {
  it("leaves the guest running when the driver's process is SIGKILLed; a new driver adopts, lists and stops it", async () => {
    const spec = specFor("graceful.mjs", { env: { FROCTAL_TOKEN: "t0ken-1" } });
    const pid = await place.startByDeadDriver(spec);
    await settle(300);
    expect(isAlive(pid)).toBe(true);
    // No lifeline: no preload, no FROCTAL_LIFELINE; the image runs under Node as is.
    expect(argvOf(pid)).toEqual([process.execPath, fixture("graceful.mjs")]);
    expect(envNamesOf(pid)).not.toContain("FROCTAL_LIFELINE");
    expect(place.records.all()).toEqual([
      {
        instanceId: spec.instanceId,
        fleet: TEST_FLEET.name,
        fleetId: TEST_FLEET.id,
        service: "graceful.mjs",
        pid,
        startTime: startTimeOf(pid),
        token: "t0ken-1",
      },
    ]);

    const driver = restartedDriver();
    const { events } = record(driver);
    expect(await driver.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    expect(await driver.list(TEST_FLEET)).toEqual([
      {
        instanceId: spec.instanceId,
        fleet: TEST_FLEET.name,
        fleetId: TEST_FLEET.id,
        service: "graceful.mjs",
        state: "running",
      },
    ]);
    expect(await driver.list({ ...TEST_FLEET, id: "0".repeat(32) })).toEqual([]);
    // start() of an adopted guest that runs changes nothing.
    await driver.start(spec);
    expect(events).toEqual([]);
    expect(place.records.all().map((kept) => kept.pid)).toEqual([pid]);

    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
    expect(events).toEqual([
      {
        kind: "exited",
        instanceId: spec.instanceId,
        requested: true,
        code: null,
        detail: `stopped on request: exited; ${UNKNOWN}`,
      },
    ]);
    expect(place.records.all()).toEqual([]);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
    expect(await place.log(spec.instanceId)).toBe("ready\nstopping\n");
  });

  it("adopts on the first call when adopt() is not called, and reports the same adoption afterwards", async () => {
    const spec = specFor("graceful.mjs");
    const pid = await place.startByDeadDriver(spec);
    const driver = restartedDriver();
    expect(await driver.list(TEST_FLEET)).toHaveLength(1);
    expect(await driver.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
  });

  it("fails start() while its records cannot be read, and adopts once they can", async () => {
    const spec = specFor("graceful.mjs");
    const pid = await place.startByDeadDriver(spec);
    let broken = true;
    const records = {
      all: () => {
        if (broken) throw new Error("database is locked");
        return place.records.all();
      },
      put: (guest: KeptGuest) => place.records.put(guest),
      delete: (instanceId: string) => place.records.delete(instanceId),
    };
    const driver = createProcessDriver({ keep: { ...place.keep(), records } });
    open.push(driver);
    const { events } = record(driver);
    const error = await rejection(driver.start(spec));
    expect(error.code).toBe("FROCTAL_E_INTERNAL");
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      "FROCTAL_E_INTERNAL: the kept guests could not be adopted: their records failed (database is locked)",
    );
    broken = false;
    // Not a second copy: the retried start finds the guest adopted.
    await driver.start(spec);
    expect(events).toEqual([]);
    expect(await driver.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(isAlive(pid)).toBe(false);
  });

  it("kills an adopted guest that ignores SIGTERM after the grace period", async () => {
    const spec = specFor("stubborn.mjs");
    const pid = await place.startByDeadDriver(spec);
    const driver = restartedDriver();
    const { events } = record(driver);
    await driver.stop(spec.instanceId, { graceMs: 200 });
    expect(isAlive(pid)).toBe(false);
    expect(events).toEqual([
      {
        kind: "exited",
        instanceId: spec.instanceId,
        requested: true,
        code: null,
        detail: `stopped on request: gone after SIGKILL at the end of its 200 ms grace period; ${UNKNOWN}`,
      },
    ]);
    expect(await place.log(spec.instanceId)).toBe("ready\nignoring SIGTERM\n");
  });

  it("reports an adopted guest that exits on its own: not requested, no code, its record deleted", async () => {
    const spec = specFor("graceful.mjs");
    const pid = await place.startByDeadDriver(spec);
    const driver = restartedDriver();
    const { events } = record(driver);
    expect(await driver.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    // Someone else ends it: the driver learns of it only from /proc.
    process.kill(pid, "SIGTERM");
    await vi.waitFor(() => expect(events).toHaveLength(1), { timeout: 3000 });
    expect(events).toEqual([
      { kind: "exited", instanceId: spec.instanceId, requested: false, code: null, detail: `exited; ${UNKNOWN}` },
    ]);
    expect(place.records.all()).toEqual([]);
    expect(await driver.list(TEST_FLEET)).toEqual([]);
  });
});

describe("process driver, keep mode: records that prove nothing are dropped, their pids left alone", () => {
  it("does not adopt a live pid whose start time is not the recorded one, nor signal it", async () => {
    const bystander = place.bystander();
    await vi.waitFor(() => expect(bystander.printed()).toBe("ready\n"));
    const spec = specFor("graceful.mjs");
    const wrongStart = String(BigInt(startTimeOf(bystander.pid)) + 1n);
    place.records.put(keptRecord(spec, bystander.pid, wrongStart, ""));
    const driver = restartedDriver();
    expect(await driver.adopt()).toEqual({ adopted: [], gone: [spec.instanceId] });
    expect(await driver.list(TEST_FLEET)).toEqual([]);
    expect(place.records.all()).toEqual([]);
    // stop() knows no such instance: it signals nothing.
    await driver.stop(spec.instanceId, { graceMs: 100 });
    await settle(200);
    expect(isAlive(bystander.pid)).toBe(true);
    expect(bystander.printed()).toBe("ready\n");
  });

  it("drops the record of a guest that has exited", async () => {
    const spec = specFor("graceful.mjs");
    const pid = await place.startByDeadDriver(spec);
    const recorded = place.records.all();
    process.kill(pid, "SIGKILL");
    await vi.waitFor(() => expect(isAlive(pid)).toBe(false));
    expect(recorded.map((kept) => kept.instanceId)).toEqual([spec.instanceId]);
    const driver = restartedDriver();
    expect(await driver.adopt()).toEqual({ adopted: [], gone: [spec.instanceId] });
    expect(place.records.all()).toEqual([]);
  });

  it("does not adopt a process whose FROCTAL_TOKEN is not the recorded one; the right token is adopted", async () => {
    const bystander = place.bystander({ FROCTAL_TOKEN: "right" });
    await vi.waitFor(() => expect(bystander.printed()).toBe("ready\n"));
    const spec = specFor("graceful.mjs");
    const startTime = startTimeOf(bystander.pid);
    place.records.put(keptRecord(spec, bystander.pid, startTime, "wrong"));
    expect(await restartedDriver().adopt()).toEqual({ adopted: [], gone: [spec.instanceId] });
    expect(place.records.all()).toEqual([]);
    await settle(200);
    expect(isAlive(bystander.pid)).toBe(true);
    expect(bystander.printed()).toBe("ready\n");

    // The same process, recorded with its own token, is the guest: what failed above was the token alone.
    place.records.put(keptRecord(spec, bystander.pid, startTime, "right"));
    const driver = restartedDriver();
    expect(await driver.adopt()).toEqual({ adopted: [spec.instanceId], gone: [] });
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(bystander.printed()).toBe("ready\nstopping\n");
  });

  it("drops records whose pid could never name a guest, and signals nothing", async () => {
    const specs = [specFor("graceful.mjs"), specFor("graceful.mjs"), specFor("graceful.mjs")];
    place.records.put(keptRecord(specs[0]!, 1, startTimeOf(1), ""));
    place.records.put(keptRecord(specs[1]!, 0, "0", ""));
    place.records.put(keptRecord(specs[2]!, -process.pid, startTimeOf(process.pid), ""));
    const driver = restartedDriver();
    expect(await driver.adopt()).toEqual({ adopted: [], gone: specs.map((spec) => spec.instanceId) });
    expect(place.records.all()).toEqual([]);
  });
});

function keptRecord(spec: ReturnType<typeof specFor>, pid: number, startTime: string, token: string) {
  const { instanceId, fleet, fleetId, service } = spec;
  return { instanceId, fleet, fleetId, service, pid, startTime, token };
}
