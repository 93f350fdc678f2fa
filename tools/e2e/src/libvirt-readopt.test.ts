/**
 * A manager killed and restarted re-adopts its running domains, and only
 * its own: the real manager core, the real libvirt driver on libvirt's
 * built-in test driver (no daemon), and the real SQLite state, across manager
 * lifetimes in one process. Two fleets of one name share the hypervisor and
 * leave each other's domains alone. test:///default keeps its domains only
 * while a connection to it is open, so a guard connection stands in for the
 * hypervisor that outlives the managers.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLibvirtDriver } from "@froctal/driver-libvirt";
import { defineFleet, type FleetSpec, type JournalEntry, Manager } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { openSqliteState } from "@froctal/state-sqlite";
import { DomainState, Hypervisor } from "@unraid/libvirt";
import { afterAll, beforeAll, expect, test } from "vitest";

const TEMPLATE = `<domain type='test'>
  <name>{{name}}</name>
  <uuid>{{uuid}}</uuid>
  <memory unit='MiB'>32</memory>
  <vcpu>1</vcpu>
  <os><type>hvm</type></os>
  <devices>
    <channel type='unix'>
      <source mode='bind' path='{{channelPath}}'/>
      <target type='virtio' name='froctal.0'/>
    </channel>
  </devices>
</domain>`;

// A fleet name of its own, so domains other tests leave on test:///default are not ours.
const fleet = defineFleet({
  name: `readopt-${process.pid}`,
  services: { vm: { image: "vm", replicas: 2, startTimeoutMs: 600_000, stopGraceMs: 200 } },
});

let guard: Hypervisor;
const stateDir = mkdtempSync(join(tmpdir(), "froctal-readopt-"));

beforeAll(async () => {
  guard = new Hypervisor({ uri: "test:///default" });
  await guard.connectOpen();
});
afterAll(async () => {
  await guard.connectClose();
  rmSync(stateDir, { recursive: true, force: true });
});

function lifetime(of: FleetSpec = fleet, dir = stateDir) {
  const driver = createLibvirtDriver({
    uris: ["test:///default"],
    templates: { vm: { xml: TEMPLATE } },
    pollMs: 50,
    channelDir: dir,
  });
  const state = openSqliteState({ dir });
  const journal: JournalEntry[] = [];
  const managerUrl = "ws://127.0.0.1:1/agent";
  const manager = new Manager({
    fleet: of,
    driver,
    state,
    clock: systemClock,
    managerUrl,
    onJournal: (e) => journal.push(e),
  });
  return { driver, state, manager, journal };
}

async function ours(): Promise<string[]> {
  const names: string[] = [];
  for (const d of await guard.connectListAllDomains()) {
    const xml = await guard.domainGetXMLDesc(d);
    if (xml.includes(`fleet="${fleet.name}"`)) names.push(await guard.domainGetName(d));
  }
  return names.sort();
}

async function eventually<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test("a restarted manager re-adopts its running domains: none duplicated, none lost", async () => {
  const first = lifetime();
  await first.manager.restore();
  first.manager.start();
  const domains = await eventually(async () => {
    const d = await ours();
    return d.length === 2 ? d : undefined;
  }, "two domains");
  const ids = [...first.manager.store.instances.keys()].sort();
  expect(ids).toHaveLength(2);

  // The manager dies without stopping anything: its domains keep running on the hypervisor.
  first.manager.close();
  await first.driver.close();
  await first.state.close();
  expect(await ours()).toEqual(domains);

  const second = lifetime();
  const report = await second.manager.restore();
  expect([...report.adopted].sort()).toEqual(ids);
  expect(report.orphansStopped).toEqual([]);
  second.manager.start();
  await new Promise((r) => setTimeout(r, 500));
  // Same instances, same domains, nothing new started.
  expect([...second.manager.store.instances.keys()].sort()).toEqual(ids);
  expect(await ours()).toEqual(domains);

  // And it still owns them: shutting down removes exactly those domains.
  await second.manager.shutdown(10_000);
  second.manager.close();
  await second.driver.close();
  await second.state.close();
  expect(await ours()).toEqual([]);
});

/** Every domain whose metadata names fleet `name`: its domain name, fleet id ("" for none) and whether it runs. */
async function domainsNamed(name: string): Promise<string[]> {
  const found: string[] = [];
  for (const d of await guard.connectListAllDomains()) {
    const xml = await guard.domainGetXMLDesc(d);
    if (!xml.includes(`fleet="${name}"`)) continue;
    const fleetId = /fleet-id="([0-9a-f]+)"/.exec(xml)?.[1] ?? "";
    const running = (await guard.domainGetInfo(d)).state === DomainState.RUNNING;
    found.push(`${await guard.domainGetName(d)} ${fleetId} ${running ? "running" : "not running"}`);
  }
  return found.sort();
}

test("two fleets of one name on one libvirt: restarting one leaves the other's domains, and a domain without a fleet id, running", async () => {
  const twins = defineFleet({
    name: `twins-${process.pid}`,
    services: { vm: { image: "vm", replicas: 2, startTimeoutMs: 600_000, stopGraceMs: 200 } },
  });
  const dirA = mkdtempSync(join(tmpdir(), "froctal-twin-a-"));
  const dirB = mkdtempSync(join(tmpdir(), "froctal-twin-b-"));
  // An earlier froctal made this one for a fleet of that name, and wrote no fleet id: nobody can prove it is theirs.
  const legacy = await guard.domainCreateXML(`<domain type='test'>
    <name>froctal.${twins.name}.vm-7</name>
    <metadata><froctal:instance xmlns:froctal="https://froctal.dev/ns/1" id="vm-7" fleet="${twins.name}" service="vm"/></metadata>
    <memory unit='MiB'>32</memory><vcpu>1</vcpu><os><type>hvm</type></os>
  </domain>`);
  try {
    const a = lifetime(twins, dirA);
    const b = lifetime(twins, dirB);
    for (const m of [a, b]) {
      expect(await m.manager.restore()).toMatchObject({ adopted: [], orphansStopped: [], unproven: ["vm-7"] });
      m.manager.start();
    }
    const idA = a.manager.fleetId;
    const idB = b.manager.fleetId;
    expect(idA).toMatch(/^[0-9a-f]{32}$/);
    expect(idB).not.toBe(idA);
    const name = (id: string, instance: string) => `froctal.${twins.name}.${id.slice(0, 8)}.${instance}`;
    const all = [
      `${name(idA, "vm-1")} ${idA} running`,
      `${name(idA, "vm-2")} ${idA} running`,
      `${name(idB, "vm-1")} ${idB} running`,
      `${name(idB, "vm-2")} ${idB} running`,
      `froctal.${twins.name}.vm-7  running`,
    ].sort();
    await eventually(async () => ((await domainsNamed(twins.name)).length === 5 ? true : undefined), "five domains");
    expect(await domainsNamed(twins.name)).toEqual(all);

    // A dies without stopping anything, and comes back: it re-adopts its two, and stops none of B's nor the old one.
    a.manager.close();
    await a.driver.close();
    await a.state.close();
    const a2 = lifetime(twins, dirA);
    const report = await a2.manager.restore();
    expect(report).toEqual({
      fleetId: idA,
      adopted: ["vm-1", "vm-2"],
      forgotten: [],
      orphansStopped: [],
      unproven: ["vm-7"],
      generation: 0,
      // vm-7 carries no fleet id: its number is not this fleet's to count.
      lastOrdinal: 2,
    });
    expect(a2.journal.map((e) => e.message)).toEqual([
      "re-adopted vm-1 (starting)",
      "re-adopted vm-2 (starting)",
      "not stopping vm-7: it carries this fleet's name but no fleet id (an earlier froctal launched it), " +
        "so it may be another fleet's; stop it by hand if it is this one's",
    ]);
    a2.manager.start();
    await new Promise((r) => setTimeout(r, 500));
    expect(await domainsNamed(twins.name)).toEqual(all);

    // Shutting A down removes exactly A's domains; B's and the old one run on.
    await a2.manager.shutdown(10_000);
    a2.manager.close();
    await a2.driver.close();
    await a2.state.close();
    expect(await domainsNamed(twins.name)).toEqual(all.filter((d) => !d.includes(idA)));
    await b.manager.shutdown(10_000);
    b.manager.close();
    await b.driver.close();
    await b.state.close();
    expect(await domainsNamed(twins.name)).toEqual([`froctal.${twins.name}.vm-7  running`]);
  } finally {
    await guard.domainDestroy(legacy);
    rmSync(dirA, { recursive: true, force: true });
    rmSync(dirB, { recursive: true, force: true });
  }
});
