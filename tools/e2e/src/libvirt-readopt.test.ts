/**
 * A manager killed and restarted re-adopts its running domains: the real
 * manager core, the real libvirt driver on libvirt's built-in test driver
 * (no daemon), and the real SQLite state, across two manager lifetimes in one
 * process. test:///default keeps its domains only while a connection to it is
 * open, so a guard connection stands in for the hypervisor that outlives the
 * manager.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLibvirtDriver } from "@froctal/driver-libvirt";
import { defineFleet, Manager } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { openSqliteState } from "@froctal/state-sqlite";
import { Hypervisor } from "@unraid/libvirt";
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

function lifetime() {
  const driver = createLibvirtDriver({
    uris: ["test:///default"],
    templates: { vm: { xml: TEMPLATE } },
    pollMs: 50,
    channelDir: stateDir,
  });
  const state = openSqliteState({ dir: stateDir });
  const manager = new Manager({ fleet, driver, state, clock: systemClock, managerUrl: "ws://127.0.0.1:1/agent" });
  return { driver, state, manager };
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
