import { LifecyclePhase } from "@froctal/protocol";
import { app, batch, device, drained, lifecycle, ready } from "@froctal/testkit";
import { action, autorun, runInAction } from "mobx";
import { describe, expect, it } from "vitest";
import { defineFleet } from "../policy/fleet.js";
import { FleetStore, type SlotTable } from "./store.js";

const fleet = defineFleet({
  name: "f",
  services: { web: { image: "web.js", replicas: 1 }, db: { image: "db.js", replicas: 1 } },
});

function setup() {
  const store = new FleetStore(fleet);
  const web = store.service("web");
  const i = runInAction(() => store.add(web, "tok", 0));
  const table: SlotTable = [];
  table[1] = i.slot(web.metric("load"));
  table[2] = i.slot(web.metric("rps"));
  const apply = action((b: Parameters<FleetStore["applyBatch"]>[1], skip = 0) => {
    store.applyBatch(i, b, table, skip);
    store.publish();
  });
  return { store, web, i, table, apply };
}

describe("FleetStore", () => {
  it("has one service per spec entry and refuses an unknown one with a clear sentence", () => {
    const store = new FleetStore(fleet);
    expect([...store.services.keys()]).toEqual(["web", "db"]);
    expect(() => store.service("cache")).toThrow(/FROCTAL_E_CONFIG: the fleet f has no service named "cache"/);
  });

  it("numbers instances in creation order across services; an adopted one keeps its id and ordinal", () => {
    const store = new FleetStore(fleet);
    const [a, b, c] = runInAction(() => [
      store.add(store.service("web"), "t", 0),
      store.add(store.service("db"), "t", 0),
      store.add(store.service("web"), "t", 0, { id: "web-7", ordinal: 7 }),
    ]);
    const d = runInAction(() => store.add(store.service("db"), "t", 0));
    expect([a!.id, b!.id, c!.id, d.id]).toEqual(["web-1", "db-2", "web-7", "db-8"]);
    expect([a!.ordinal, b!.ordinal, c!.ordinal, d.ordinal]).toEqual([1, 2, 7, 8]);
    expect(store.service("web").active.map((x) => x.id)).toEqual(["web-1", "web-7"]);
    expect(store.instance("db-2")).toBe(b);
  });

  it("applies samples through the session's table and ignores undeclared ids", () => {
    const { web, i, apply } = setup();
    apply(batch({ metricIds: [1, 2, 9], metricValues: [0.5, 100, 7] }));
    expect([web.metric("load").sum, web.metric("rps").sum, i.metric("load"), i.metric("rps")]).toEqual([
      0.5, 100, 0.5, 100,
    ]);
  });

  it("publishes each changed aggregate once per tick", () => {
    const { web, apply } = setup();
    const runs: number[] = [];
    const dispose = autorun(() => runs.push(web.metric("load").sum));
    apply(batch({ metricIds: [1, 1, 1], metricValues: [1, 2, 3] }));
    expect(runs).toEqual([0, 3]);
    dispose();
  });

  it("applies lifecycle events along the state machine; drained is a flag, exited is the driver's to say", () => {
    const { i, apply } = setup();
    apply(batch({ events: [lifecycle(LifecyclePhase.LIFECYCLE_PHASE_STARTING)] }));
    expect(i.phase).toBe("starting");
    apply(batch({ events: [ready(), lifecycle(LifecyclePhase.LIFECYCLE_PHASE_STARTING)] }));
    expect(i.phase).toBe("ready");
    apply(batch({ events: [lifecycle(LifecyclePhase.LIFECYCLE_PHASE_DRAINING), drained()] }));
    expect([i.phase, i.drained]).toEqual(["draining", true]);
    apply(batch({ events: [lifecycle(LifecyclePhase.LIFECYCLE_PHASE_EXITED)] }));
    expect(i.phase).toBe("draining");
  });

  it("keeps a task's lifecycle as a fact, not as the instance's phase", () => {
    const { i, apply } = setup();
    apply(batch({ events: [lifecycle(LifecyclePhase.LIFECYCLE_PHASE_READY, "migrate")] }));
    expect(i.phase).toBe("requested");
    expect(i.fact("task:migrate")).toEqual({ phase: LifecyclePhase.LIFECYCLE_PHASE_READY });
  });

  it("keeps devices by id and application facts JSON-decoded (raw bytes otherwise)", () => {
    const { i, apply } = setup();
    apply(batch({ events: [device("nic0", "added", "nic", { speed: "10G" }), app("mode", { fast: true })] }));
    expect(i.devices.get("nic0")).toEqual({ id: "nic0", kind: "nic", properties: { speed: "10G" } });
    expect(i.fact("mode")).toEqual({ fast: true });
    const bytes = new Uint8Array([1, 2, 3]);
    apply(
      batch({
        events: [
          device("nic0", "removed"),
          { atMs: 0, kind: "app", app: { name: "blob", payload: bytes, mediaType: "application/octet-stream" } },
          { atMs: 0, kind: "app", app: { name: "bad", payload: new Uint8Array([123]), mediaType: "" } },
        ],
      }),
    );
    expect(i.devices.size).toBe(0);
    expect(i.fact("blob")).toBe(bytes);
    expect(i.fact("bad")).toEqual(new Uint8Array([123]));
  });

  it("skips the events before `skip` (already applied before a reconnect)", () => {
    const { i, apply } = setup();
    apply(batch({ events: [app("n", 1), app("n", 2), app("n", 3)] }), 2);
    expect(i.fact("n")).toBe(3);
    apply(batch({ events: [app("n", 4)] }), 1);
    expect(i.fact("n")).toBe(3);
  });

  it("forgets a removed instance and its values, publishing the change", () => {
    const { store, web, i, apply } = setup();
    apply(batch({ metricIds: [1], metricValues: [4] }));
    const sums: number[] = [];
    const dispose = autorun(() => sums.push(web.metric("load").sum));
    runInAction(() => {
      store.remove(i);
      store.publish();
    });
    expect(sums).toEqual([4, 0]);
    expect(store.instance(i.id)).toBeUndefined();
    expect(web.instances.size).toBe(0);
    expect([web.metric("load").count, i.metric("load")]).toEqual([0, undefined]);
    dispose();
  });

  it("a derivation reading an instance's metric re-runs when the instance first reports it", () => {
    const { i, apply } = setup();
    const seen: (number | undefined)[] = [];
    const dispose = autorun(() => seen.push(i.metric("load")));
    apply(batch({ metricIds: [1], metricValues: [0.25] }));
    apply(batch({ metricIds: [1], metricValues: [0.75] }));
    expect(seen).toEqual([undefined, 0.25, 0.75]);
    dispose();
  });

  it("a derivation reading one instance's metric re-runs for that instance's samples only", () => {
    const { store, web, i, table, apply } = setup();
    const other = runInAction(() => store.add(web, "tok", 0));
    const otherTable: SlotTable = [];
    otherTable[1] = other.slot(web.metric("load"));
    const applyOther = action((b: Parameters<FleetStore["applyBatch"]>[1]) => {
      store.applyBatch(other, b, otherTable, 0);
      store.publish();
    });
    apply(batch({ metricIds: [1], metricValues: [1] }));
    const seen: (number | undefined)[] = [];
    const dispose = autorun(() => seen.push(i.metric("load")));
    applyOther(batch({ metricIds: [1], metricValues: [5] }));
    applyOther(batch({ metricIds: [1], metricValues: [6] }));
    expect(seen).toEqual([1]);
    // Both in one tick: one re-run, with the instance's own value.
    action(() => {
      store.applyBatch(other, batch({ metricIds: [1], metricValues: [7] }), otherTable, 0);
      store.applyBatch(i, batch({ metricIds: [1, 1], metricValues: [2, 3] }), table, 0);
      store.publish();
    })();
    expect(seen).toEqual([1, 3]);
    // The service-wide view still follows every instance.
    expect(web.metric("load").sum).toBe(10);
    runInAction(() => {
      store.remove(other);
      store.publish();
    });
    expect(seen).toEqual([1, 3]);
    runInAction(() => {
      store.remove(i);
      store.publish();
    });
    expect(seen).toEqual([1, 3, undefined]);
    dispose();
  });

  it("a derivation looking an instance up by id re-runs when that instance comes and goes", () => {
    const store = new FleetStore(fleet);
    const seen: (string | undefined)[] = [];
    const dispose = autorun(() => seen.push(store.instance("web-1")?.phase));
    const i = runInAction(() => store.add(store.service("web"), "t", 0));
    runInAction(() => i.moveTo("ready"));
    runInAction(() => store.remove(i));
    expect(seen).toEqual([undefined, "requested", "ready", undefined]);
    dispose();
  });
});
