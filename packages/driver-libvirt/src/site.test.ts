import type { DriverEvent } from "@froctal/manager";
import { VirtualClock } from "@froctal/primitives";
import { DomainState } from "@unraid/libvirt";
import { describe, expect, it } from "vitest";
import { CallGate } from "./gate.js";
import { type DomainRecord, Host } from "./host.js";
import { type InstanceState, isActive, type Tracked } from "./instance.js";
import { absorb, createSite, type InstanceBook, loadOf } from "./site.js";

const URI = "test:///pure";
const FLEET_ID = "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1";

/** A site whose host is never called: absorb() only reads listings it is handed. */
function site() {
  const host = new Host(URI, {
    clock: new VirtualClock(),
    gate: new CallGate(1),
    callTimeoutMs: 1000,
    connect: () => {
      throw new Error("no connection in this test");
    },
  });
  return createSite(host);
}

function record(instanceId: string | undefined, state: DomainState, memoryKiB = 1024): DomainRecord {
  const uuid = `uuid-${instanceId ?? "foreign"}`;
  const owner =
    instanceId === undefined
      ? undefined
      : {
          name: `froctal.alpha.${instanceId}`,
          ownership: { instanceId, fleet: "alpha", fleetId: FLEET_ID, service: "web" },
        };
  return { uuid, state, memoryKiB, vcpus: 1, owner };
}

/** The same bookkeeping the driver does, reporting every crossing. */
function book(busyIds: string[] = []) {
  const events: DriverEvent[] = [];
  const tracked = new Map<string, Tracked>();
  const b: InstanceBook = {
    tracked,
    fleets: new Set([FLEET_ID]),
    busy: (t, since) => t.touched > since || busyIds.includes(t.instanceId),
    update: (t: Tracked, state: InstanceState | "gone", detail: string) => {
      t.state = state;
      const active = isActive(state);
      if (active === t.reportedActive) return;
      t.reportedActive = active;
      events.push(
        active
          ? { kind: "started", instanceId: t.instanceId, detail }
          : { kind: "exited", instanceId: t.instanceId, requested: t.stopRequested, code: null, detail },
      );
    },
  };
  return { book: b, events, tracked };
}

describe("absorb", () => {
  it("takes the first listing as a baseline, then reports each crossing once", () => {
    const s = site();
    const { book: b, events, tracked } = book();
    absorb(s, { epoch: 1, records: [record("a", DomainState.RUNNING), record(undefined, DomainState.RUNNING)] }, 0, b);
    expect(events).toEqual([]);
    expect([...tracked.keys()]).toEqual(["a"]);
    expect(s).toMatchObject({ everListed: true, listedEpoch: 1 });

    const next = [record("a", DomainState.CRASHED), record("b", DomainState.PAUSED)];
    absorb(s, { epoch: 1, records: next }, 0, b);
    absorb(s, { epoch: 1, records: next }, 0, b);
    expect(events).toEqual([
      {
        kind: "exited",
        instanceId: "a",
        requested: false,
        code: null,
        detail: `domain froctal.alpha.a on ${URI} crashed`,
      },
      { kind: "started", instanceId: "b", detail: `domain froctal.alpha.b on ${URI} is paused` },
    ]);
    absorb(s, { epoch: 1, records: [] }, 0, b);
    expect(events.at(-1)).toMatchObject({
      kind: "exited",
      instanceId: "b",
      detail: `domain froctal.alpha.b on ${URI} is gone`,
    });
    expect(tracked.size).toBe(0);
  });

  it("leaves instances the driver is busy with, and their records, as the driver has them", () => {
    const s = site();
    const { book: b, events, tracked } = book(["a"]);
    absorb(s, { epoch: 1, records: [record("a", DomainState.RUNNING)] }, 0, b);
    absorb(s, { epoch: 2, records: [] }, 0, b);
    expect(events).toEqual([]);
    expect(tracked.get("a")?.state).toBe("running");
    expect(s.records.has("uuid-a")).toBe(true);
  });

  it("counts every domain that is not shut off, froctal's or not, and reservations, against the host", () => {
    const s = site();
    const { book: b } = book();
    const records = [
      record("a", DomainState.RUNNING, 100),
      record("c", DomainState.SHUTOFF, 1000),
      record(undefined, DomainState.PAUSED, 10),
    ];
    absorb(s, { epoch: 1, records }, 0, b);
    s.reserved.memoryKiB = 5;
    s.reserved.count = 1;
    expect(loadOf(s)).toMatchObject({ usable: true, usedMemoryKiB: 115, usedVcpus: 2, instances: 2 });
  });
});
