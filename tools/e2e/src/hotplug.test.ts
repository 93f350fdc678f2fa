/**
 * The hot-plug scenario end to end, on real processes: the froctal binary runs
 * the hotplug example (one guest whose NICs are files in a temporary device
 * directory). The policy derives { uplink: <fastest NIC> }: a faster NIC
 * plugged in moves the guest's traffic there, one unplugged moves it back, a
 * slower one changes nothing (no generation at all).
 *
 * Which NIC the guest uses is read from its HTTP endpoint (GET / -> uplink and
 * generation) and from the lines it prints, which the manager logs.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ManagerStatus } from "@froctal/manager";
import { expect, test } from "vitest";
import { eventually, fleetPerTest, guestSaid, type RunningFleet, writeJsonAtomically } from "./fleet.js";

type Instance = ManagerStatus["services"][number]["instances"][number];
interface Device {
  readonly id: string;
  readonly kind: string;
  readonly properties: Readonly<Record<string, string>>;
}
interface Uplink {
  readonly generation: number;
  readonly uplink: string | null;
}

const run = fleetPerTest("apps/examples/hotplug");

async function guest(f: RunningFleet): Promise<{ status: ManagerStatus; instance: Instance }> {
  const status = await f.status();
  const all = status.services.find((s) => s.name === "guest")!.instances;
  const instance = all[0];
  if (
    all.length !== 1 ||
    instance === undefined ||
    instance.phase !== "ready" ||
    typeof instance.endpoint !== "string"
  ) {
    throw new Error(`expected one ready guest, got ${JSON.stringify(all)}`);
  }
  return { status, instance };
}

async function uplinkOf(instance: Instance): Promise<Uplink> {
  return (await (await fetch(instance.endpoint as string)).json()) as Uplink;
}

/** Waits until the guest runs `nic` as its uplink, and the manager has recorded that generation. */
async function usesUplink(f: RunningFleet, nic: string): Promise<{ status: ManagerStatus; instance: Instance }> {
  return eventually(async () => {
    const g = await guest(f).catch(() => undefined);
    if (g === undefined) return undefined;
    const u = await uplinkOf(g.instance);
    return u.uplink === nic && u.generation === g.instance.generation && g.instance.generation > 0 ? g : undefined;
  }, `the guest to use ${nic}`);
}

const nicsOf = (i: Instance) => (i.devices as Device[]).map((d) => `${d.id}:${d.kind}:${d.properties.speed_mbps}`);

test("the guest follows its fastest NIC as NICs are plugged, changed and unplugged", async () => {
  const f = run.fleet;
  const start = await usesUplink(f, "eth0");
  const id = start.instance.id;
  expect(nicsOf(start.instance)).toEqual(["eth0:nic:1000"]);
  const file = (nic: string) => join(run.devices, id, `${nic}.json`);

  // A faster NIC: one generation moves the guest there.
  writeJsonAtomically(file("eth1"), { speed_mbps: 10_000 });
  const faster = await usesUplink(f, "eth1");
  expect(faster.instance.generation).toBe(start.instance.generation + 1);
  expect(nicsOf(faster.instance)).toEqual(["eth0:nic:1000", "eth1:nic:10000"]);
  expect(faster.status.rollouts.at(-1)).toMatchObject({
    generation: faster.instance.generation,
    result: "committed",
    instances: [id],
  });
  await guestSaid(f, id, new RegExp(`^commit g${faster.instance.generation}: uplink eth1 \\(10000 Mb/s\\), was eth0$`));

  // A slower NIC changes the derived configuration not at all: no generation.
  writeJsonAtomically(file("eth2"), { speed_mbps: 100 });
  await eventually(async () => {
    const { instance } = await guest(f);
    return nicsOf(instance).includes("eth2:nic:100") ? true : undefined;
  }, "the manager to see eth2");
  await new Promise((r) => setTimeout(r, 500));
  const unchanged = await guest(f);
  expect(unchanged.status.generation).toBe(faster.status.generation);
  expect((await uplinkOf(unchanged.instance)).uplink).toBe("eth1");

  // That NIC gets faster than the rest (device changed): the guest moves to it.
  writeJsonAtomically(file("eth2"), { speed_mbps: 40_000 });
  const changed = await usesUplink(f, "eth2");
  expect(changed.instance.generation).toBe(faster.instance.generation + 1);

  // Unplugged: back to the fastest that is left, then to the first NIC.
  rmSync(file("eth2"));
  const back = await usesUplink(f, "eth1");
  expect(nicsOf(back.instance)).toEqual(["eth0:nic:1000", "eth1:nic:10000"]);
  rmSync(file("eth1"));
  const first = await usesUplink(f, "eth0");
  expect(nicsOf(first.instance)).toEqual(["eth0:nic:1000"]);
  await guestSaid(f, id, new RegExp(`^commit g${first.instance.generation}: uplink eth0 \\(1000 Mb/s\\), was eth1$`));

  const rounds = first.status.rollouts.filter((r) => r.generation > start.instance.generation);
  expect(rounds.map((r) => r.result)).toEqual(["committed", "committed", "committed", "committed"]);
});
