/**
 * The reconfiguration scenario end to end, on real processes: the froctal
 * binary runs the routers example (router-a, -b, -c, one guest each), whose
 * interfaces are files in a temporary device directory. An interface added to
 * A must reach B and C as one generation: both commit it, or neither does
 * (B refuses it; C dies between prepare and commit); changes made while a
 * generation is in flight wait and are coalesced into the next one.
 *
 * What a router runs is read from its HTTP endpoint (GET / -> its table and
 * generation) and from the lines it prints, which the manager logs.
 */
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { ManagerStatus, RolloutOutcome } from "@froctal/manager";
import { expect, test } from "vitest";
import {
  eventually,
  fleetPerTest,
  guestLines,
  guestPid,
  guestSaid,
  type RunningFleet,
  writeJsonAtomically,
} from "./fleet.js";

type Instance = ManagerStatus["services"][number]["instances"][number];
interface Route {
  readonly prefix: string;
  readonly via: string;
  readonly gateway?: string;
}
interface Table {
  readonly generation: number;
  readonly routes: readonly Route[];
}

const run = fleetPerTest("apps/examples/routers");

function only(status: ManagerStatus, service: string): Instance | undefined {
  const all = status.services.find((s) => s.name === service)?.instances ?? [];
  return all.length === 1 && all[0]!.phase === "ready" && typeof all[0]!.endpoint === "string" ? all[0] : undefined;
}

async function table(instance: Instance): Promise<Table> {
  return (await (await fetch(instance.endpoint as string)).json()) as Table;
}

const hasRoute = (t: Table, prefix: string) => t.routes.some((r) => r.prefix === prefix);

/** The seeded network: A on the transit net only; B and C with a LAN each. */
function seeded(a: Instance, b: Instance, c: Instance): Record<string, Route[]> {
  const viaB = { prefix: "10.2.0.0/24", via: b.id, gateway: "10.0.0.2" };
  const viaC = { prefix: "10.3.0.0/24", via: c.id, gateway: "10.0.0.3" };
  return { [a.id]: [viaB, viaC], [b.id]: [viaC], [c.id]: [viaB] };
}

interface Settled {
  readonly status: ManagerStatus;
  readonly a: Instance;
  readonly b: Instance;
  readonly c: Instance;
}

/** Waits until each router runs the table the seeded interfaces call for, and the manager knows it. */
async function settled(f: RunningFleet): Promise<Settled> {
  return eventually(async () => {
    const status = await f.status();
    const [a, b, c] = ["router-a", "router-b", "router-c"].map((s) => only(status, s));
    if (a === undefined || b === undefined || c === undefined) return undefined;
    const want = seeded(a, b, c);
    for (const i of [a, b, c]) {
      const t = await table(i);
      if (JSON.stringify(t.routes) !== JSON.stringify(want[i.id]) || t.generation !== i.generation) return undefined;
    }
    return { status, a, b, c };
  }, "the routers to run their seeded tables");
}

function after(status: ManagerStatus, generation: number): RolloutOutcome[] {
  return status.rollouts.filter((r) => r.generation > generation);
}

async function outcome(f: RunningFleet, generation: number): Promise<RolloutOutcome> {
  return eventually(
    async () => (await f.status()).rollouts.find((r) => r.generation === generation),
    `the outcome of generation ${generation}`,
  );
}

const nic = (instance: Instance, name: string) => join(run.devices, instance.id, `${name}.json`);
const sorted = (ids: readonly string[]) => [...ids].sort();

test("an interface added to A reaches B and C in one generation; changing and removing it too", async () => {
  const f = run.fleet;
  const { status, a, b, c } = await settled(f);

  const steps = [
    { write: { address: "10.1.0.1/24" }, route: { prefix: "10.1.0.0/24", via: a.id, gateway: "10.0.0.1" } },
    { write: { address: "10.1.128.1/17" }, route: { prefix: "10.1.128.0/17", via: a.id, gateway: "10.0.0.1" } },
    { write: undefined, route: undefined },
  ];
  let last = status.generation;
  for (const step of steps) {
    if (step.write) writeJsonAtomically(nic(a, "eth1"), step.write);
    else rmSync(nic(a, "eth1"));
    const done = await outcome(f, last + 1);
    expect(done).toMatchObject({ result: "committed", generation: last + 1 });
    expect(sorted(done.instances)).toEqual(sorted([b.id, c.id]));

    const now = await f.status();
    expect(after(now, last)).toHaveLength(1); // one generation for the one change
    const [a2, b2, c2] = ["router-a", "router-b", "router-c"].map((s) => only(now, s)!);
    expect(b2!.generation).toBe(done.generation);
    expect(c2!.generation).toBe(done.generation);
    expect(a2!.generation).toBe(a.generation); // A's own table does not depend on its interfaces
    const eth1 = (a2!.devices as { id: string; properties: Record<string, string> }[]).find((d) => d.id === "eth1");
    expect(eth1?.properties.address).toBe(step.write?.address);
    for (const i of [b2!, c2!]) {
      const t = await table(i);
      expect(t.generation).toBe(done.generation);
      const fromA = t.routes.filter((r) => r.via === a.id);
      expect(fromA).toEqual(step.route ? [step.route] : []);
    }
    last = done.generation;
  }
  expect(after(await f.status(), status.generation).every((r) => r.result === "committed")).toBe(true);
});

test("B refuses the new route: C does not take it either, until B accepts it", async () => {
  const f = run.fleet;
  const { status, a, b, c } = await settled(f);
  writeJsonAtomically(join(run.devices, b.id, "refuse.json"), ["10.1.0.0/24"]);
  writeJsonAtomically(nic(a, "eth1"), { address: "10.1.0.1/24" });

  const g = status.generation + 1;
  const refused = await outcome(f, g);
  expect(refused).toMatchObject({
    result: "aborted",
    reason: `${b.id} refused generation ${g}: prefix 10.1.0.0/24 is refused by local policy (refuse.json)`,
  });
  expect(sorted(refused.instances)).toEqual(sorted([b.id, c.id]));
  // C had prepared the new table and was told to drop it.
  await guestSaid(f, c.id, new RegExp(`^prepare g${g}: 10\\.1\\.0\\.0/24 via ${a.id}`));
  await guestSaid(f, c.id, new RegExp(`^abort g${g}: keeping g${c.generation}$`));

  // The manager retries after 1 s (then 2 s, ...); B refuses each time and C keeps running what it ran.
  const deadline = Date.now() + 2_500;
  while (Date.now() < deadline) {
    const now = await f.status();
    for (const [was, service] of [
      [b, "router-b"],
      [c, "router-c"],
    ] as const) {
      const i = only(now, service)!;
      expect(i.generation).toBe(was.generation);
      const t = await table(i);
      expect(t.generation).toBe(was.generation);
      expect(hasRoute(t, "10.1.0.0/24")).toBe(false);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const tries = after(await f.status(), status.generation);
  expect(tries.length).toBeGreaterThanOrEqual(2);
  expect(tries.every((r) => r.result === "aborted" && r.reason.startsWith(`${b.id} refused`))).toBe(true);
  expect(guestLines(f, c.id).some((l) => /^commit g/.test(l) && l.includes("10.1.0.0/24"))).toBe(false);

  // B lifts its refusal: the next retry commits on both, together.
  rmSync(join(run.devices, b.id, "refuse.json"));
  const committed = await eventually(async () => {
    const r = after(await f.status(), status.generation).find((o) => o.result === "committed");
    return r;
  }, "a committed retry");
  expect(sorted(committed.instances)).toEqual(sorted([b.id, c.id]));
  const now = await f.status();
  for (const service of ["router-b", "router-c"]) {
    const i = only(now, service)!;
    expect(i.generation).toBe(committed.generation);
    expect(hasRoute(await table(i), "10.1.0.0/24")).toBe(true);
  }
});

test("C dies between prepare and commit: the generation aborts and B does not commit it", async () => {
  const f = run.fleet;
  const { status, a, b, c } = await settled(f);
  // C's prepare waits on hold.json, so the test knows the moment: B prepared, C has not answered.
  writeJsonAtomically(join(run.devices, c.id, "hold.json"), {});
  writeJsonAtomically(nic(a, "eth1"), { address: "10.1.0.1/24" });
  const g = status.generation + 1;
  await guestSaid(f, c.id, new RegExp(`^prepare g${g} held by hold.json$`));
  await guestSaid(f, b.id, new RegExp(`^prepare g${g}: 10\\.1\\.0\\.0/24 via ${a.id}`));
  process.kill(guestPid(f.url, c.id), "SIGKILL");

  const aborted = await outcome(f, g);
  expect(aborted).toMatchObject({ result: "aborted", reason: `${c.id} disconnected before it prepared` });
  expect(sorted(aborted.instances)).toEqual(sorted([b.id, c.id]));
  await guestSaid(f, b.id, new RegExp(`^abort g${g}: keeping g${b.generation}$`));
  // B never ran generation g: its next commit (the fleet without C) is a later generation.
  expect(guestLines(f, b.id).filter((l) => l.startsWith(`commit g${g}:`))).toEqual([]);

  // The manager replaces C; B and the new C then take the new route together.
  const recovered = await eventually(async () => {
    const now = await f.status();
    const [b2, c2] = [only(now, "router-b"), only(now, "router-c")];
    if (b2 === undefined || c2 === undefined || c2.id === c.id) return undefined;
    const [tb, tc] = [await table(b2), await table(c2)];
    const ok =
      hasRoute(tb, "10.1.0.0/24") &&
      hasRoute(tc, "10.1.0.0/24") &&
      tb.generation === b2.generation &&
      tc.generation === c2.generation;
    return ok ? { now, b2, c2 } : undefined;
  }, "B and a new C to run the route to 10.1.0.0/24");
  expect(recovered.b2.generation).toBeGreaterThan(g);
  expect(recovered.now.journal.map((e) => e.message).join("\n")).toContain(`${c.id} failed: it exited unexpectedly`);
});

test("changes made while a generation is in flight wait and are coalesced into the next one", async () => {
  const f = run.fleet;
  const { status, a, b, c } = await settled(f);
  writeJsonAtomically(join(run.devices, b.id, "hold.json"), {});
  writeJsonAtomically(nic(a, "eth1"), { address: "10.1.0.1/24" });
  const g = status.generation + 1;
  await guestSaid(f, b.id, new RegExp(`^prepare g${g} held by hold.json$`));

  // Two more changes while generation g is held in B's prepare.
  writeJsonAtomically(nic(a, "eth2"), { address: "10.4.0.1/24" });
  writeJsonAtomically(nic(a, "eth3"), { address: "10.5.0.1/24" });
  await eventually(async () => {
    const a2 = only(await f.status(), "router-a");
    const ids = (a2?.devices as { id: string }[] | undefined)?.map((d) => d.id) ?? [];
    return ids.includes("eth2") && ids.includes("eth3") ? true : undefined;
  }, "the manager to see eth2 and eth3 on A");
  rmSync(join(run.devices, b.id, "hold.json"));

  await outcome(f, g + 1);
  await new Promise((r) => setTimeout(r, 1_000)); // room for a generation too many to show up
  const now = await f.status();
  const rounds = after(now, status.generation);
  expect(rounds.map((r) => [r.generation, r.result, sorted(r.instances)])).toEqual([
    [g, "committed", sorted([b.id, c.id])],
    [g + 1, "committed", sorted([b.id, c.id])],
  ]);
  expect(guestLines(f, b.id).find((l) => l.startsWith(`commit g${g}:`))).toContain("10.1.0.0/24");
  expect(guestLines(f, b.id).find((l) => l.startsWith(`commit g${g}:`))).not.toContain("10.4.0.0/24");
  for (const service of ["router-b", "router-c"]) {
    const i = only(now, service)!;
    const t = await table(i);
    expect([i.generation, t.generation]).toEqual([g + 1, g + 1]);
    for (const p of ["10.1.0.0/24", "10.4.0.0/24", "10.5.0.0/24"]) expect(hasRoute(t, p)).toBe(true);
  }
});

test("two interface changes in quick succession are coalesced into exactly one generation", async () => {
  const f = run.fleet;
  const { status, a, b, c } = await settled(f);
  // A is paused while both files are written, so its next look at the folder sees both: one device
  // report carries the two changes. Coalescing means one tick, one derived change, one generation.
  const paused = guestPid(f.url, a.id);
  process.kill(paused, "SIGSTOP");
  try {
    writeJsonAtomically(nic(a, "eth1"), { address: "10.1.0.1/24" });
    writeJsonAtomically(nic(a, "eth2"), { address: "10.4.0.1/24" });
  } finally {
    process.kill(paused, "SIGCONT");
  }
  await guestSaid(f, a.id, /^interfaces: eth0 10\.0\.0\.1\/24, eth1 10\.1\.0\.1\/24, eth2 10\.4\.0\.1\/24$/);

  const g = status.generation + 1;
  const done = await outcome(f, g);
  await new Promise((r) => setTimeout(r, 1_000)); // room for a generation too many to show up
  const now = await f.status();
  expect(after(now, status.generation).map((r) => [r.generation, r.result, sorted(r.instances)])).toEqual([
    [g, "committed", sorted([b.id, c.id])],
  ]);
  expect(done.generation).toBe(g);
  expect(now.generation).toBe(g);
  // A reported the two interfaces together, never one without the other.
  expect(guestLines(f, a.id).filter((l) => l.startsWith("interfaces: "))).toEqual([
    "interfaces: eth0 10.0.0.1/24",
    "interfaces: eth0 10.0.0.1/24, eth1 10.1.0.1/24, eth2 10.4.0.1/24",
  ]);
  for (const [i, service] of [
    [b, "router-b"],
    [c, "router-c"],
  ] as const) {
    // Each router prepared and committed once, with both new routes.
    const rounds = guestLines(f, i.id).filter((l) => /^(prepare|commit) g/.test(l) && l.includes("10.1.0.0/24"));
    expect(rounds.map((l) => l.split(":")[0])).toEqual([`prepare g${g}`, `commit g${g}`]);
    for (const l of rounds) expect(l).toContain("10.4.0.0/24");
    const t = await table(only(now, service)!);
    expect(t.generation).toBe(g);
    expect(hasRoute(t, "10.1.0.0/24") && hasRoute(t, "10.4.0.0/24")).toBe(true);
  }
});
