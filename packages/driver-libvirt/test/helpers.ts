import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import type { DriverEvent, LaunchSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import { type ConnectListAllDomainsFlags, type Domain, type DomainGetXMLDescFlags, Hypervisor } from "@unraid/libvirt";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import type { ConnectionFactory, LibvirtConnection } from "../src/connection.js";
import { createLibvirtDriver, type LibvirtDriver } from "../src/libvirt-driver.js";
import type { LibvirtDriverOptions } from "../src/options.js";
import type { DomainTemplate } from "../src/template.js";

/** `test:///abs/path/<name>`: a test-driver host loaded from a fixture, with private state per connection. */
export function fixtureUri(name: string): string {
  return `test://${fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url))}`;
}

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

/** Whether the real virsh (Debian: libvirt-clients) is installed, for the tests that run it. */
export const hasVirsh = (() => {
  try {
    execFileSync("virsh", ["--version"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
})();

/** A guest for the test driver, shaped like a real one: direct kernel boot and a virtio-serial channel. */
export const GUEST_XML = `<domain type='test'>
  <name>{{name}}</name>
  <uuid>{{uuid}}</uuid>
  <memory unit='MiB'>{{memoryMiB}}</memory>
  <vcpu>1</vcpu>
  <os>
    <type>hvm</type>
    <kernel>{{kernel}}</kernel>
    <initrd>{{initrd}}</initrd>
    <cmdline>console=ttyS0 froctal.instance={{instanceId}} {{args}}</cmdline>
  </os>
  <on_poweroff>{{onPoweroff}}</on_poweroff>
  <devices>
    <channel type='unix'>
      <source mode='bind' path='{{channelPath}}'/>
      <target type='virtio' name='froctal.0'/>
    </channel>
  </devices>
</domain>`;

export function guestTemplate(memoryMiB = 32, onPoweroff = "destroy"): DomainTemplate {
  return {
    xml: GUEST_XML,
    values: { memoryMiB, kernel: "/srv/guest/vmlinuz", initrd: "/srv/guest/initrd.img", onPoweroff },
  };
}

/** "guest" (32 MiB) boots and shuts down; "stubborn" ignores shutdown (on_poweroff restart, which the test driver honours); "big" takes 64 MiB. */
export const TEMPLATES = { guest: guestTemplate(), stubborn: guestTemplate(32, "restart"), big: guestTemplate(64) };

/** In every instance id this module hands out, so a test file cleans up only its own domains. */
export const RUN_TAG = randomBytes(3).toString("hex");
let next = 0;

/** The fleets of these tests: "alpha" (the default of specFor) and others, each with its own id. */
export const ALPHA = { name: "alpha", id: "a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1a1" } as const;
/** Another fleet named "alpha": same name, its own id. */
export const OTHER_ALPHA = { name: "alpha", id: "a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2" } as const;
export const BETA = { name: "beta", id: "bebebebebebebebebebebebebebebebe" } as const;
export const GAMMA = { name: "gamma", id: "9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a9a" } as const;

type ImageSpec = Extract<LaunchSpec, { readonly image: string }>;

/** A launch spec with a fresh instance id, unique across test files even if they share test:///default. */
export function specFor(extra: Partial<ImageSpec> = {}): ImageSpec {
  next += 1;
  const instanceId = `i${RUN_TAG}-${next}`;
  return {
    instanceId,
    fleet: ALPHA.name,
    fleetId: ALPHA.id,
    service: "web",
    image: "guest",
    env: { FROCTAL_INSTANCE_ID: instanceId, FROCTAL_TOKEN: `secret-${instanceId}`, FROCTAL_MANAGER_URL: "ws://x" },
    ...extra,
  };
}

/** Everything a driver reports, in order. */
export function record(driver: LibvirtDriver): { events: DriverEvent[]; of(instanceId: string): DriverEvent[] } {
  const events: DriverEvent[] = [];
  driver.watch((event) => events.push(event));
  return { events, of: (instanceId) => events.filter((event) => event.instanceId === instanceId) };
}

/**
 * A second connection to test:///default, for changes behind the driver's
 * back; it also keeps the shared state alive while drivers come and go (the
 * test driver's default state lasts only while a connection to it is open).
 */
export class Bystander {
  readonly hypervisor = new Hypervisor({ uri: "test:///default" });

  open(): Promise<void> {
    return this.hypervisor.connectOpen();
  }

  close(): Promise<void> {
    return this.hypervisor.connectClose();
  }

  async domain(name: string): Promise<Domain | undefined> {
    try {
      return await this.hypervisor.domainLookupByName(name);
    } catch {
      return undefined;
    }
  }

  async xml(name: string): Promise<string | undefined> {
    const domain = await this.domain(name);
    return domain === undefined ? undefined : this.hypervisor.domainGetXMLDesc(domain);
  }

  async destroy(name: string): Promise<void> {
    const domain = await this.domain(name);
    if (domain !== undefined) await this.hypervisor.domainDestroy(domain);
  }

  /** Names of the domains made for this test module's instances. */
  async ours(): Promise<string[]> {
    const names = await Promise.all(
      (await this.hypervisor.connectListAllDomains()).map((d) => this.hypervisor.domainGetName(d)),
    );
    return names.filter((n) => n.includes(RUN_TAG)).sort();
  }

  async destroyOurs(): Promise<void> {
    for (const name of await this.ours()) await this.destroy(name);
  }
}

/** What a wrapped connection saw: calls by method, most at once, and a switch to cut or stall it. */
export interface Probe {
  readonly calls: string[];
  inFlight: number;
  peak: number;
  opened: number;
  /** Makes the next calls of these methods fail as a dropped connection would. */
  cut: Set<string>;
  /** Delays the next call of these methods by this many ms before making it. */
  stall: Map<string, number>;
}

/** Wraps the real Hypervisor to watch, cut and stall calls: the port the driver takes for its connections. */
export function probedConnections(): { connect: ConnectionFactory; probe: Probe } {
  const probe: Probe = { calls: [], inFlight: 0, peak: 0, opened: 0, cut: new Set(), stall: new Map() };
  const connect: ConnectionFactory = (uri) => {
    const real = new Hypervisor({ uri });
    probe.opened += 1;
    const wrap =
      <A extends unknown[], R>(method: string, fn: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> => {
        probe.calls.push(method);
        probe.inFlight += 1;
        probe.peak = Math.max(probe.peak, probe.inFlight);
        try {
          const delay = probe.stall.get(method);
          if (delay !== undefined) {
            probe.stall.delete(method);
            await new Promise((resolve) => setTimeout(resolve, delay));
          }
          if (probe.cut.delete(method)) throw "Cannot recv data: Connection reset by peer";
          // A little latency, so that calls overlap as they do against a real daemon.
          await new Promise((resolve) => setImmediate(resolve));
          return await fn(...args);
        } finally {
          probe.inFlight -= 1;
        }
      };
    const connection: LibvirtConnection = {
      connectOpen: wrap("connectOpen", () => real.connectOpen()),
      connectClose: wrap("connectClose", () => real.connectClose()),
      connectListAllDomains: wrap("connectListAllDomains", (flags?: ConnectListAllDomainsFlags) =>
        real.connectListAllDomains(flags),
      ),
      nodeGetInfo: wrap("nodeGetInfo", () => real.nodeGetInfo()),
      domainCreateXML: wrap("domainCreateXML", (xml: string) => real.domainCreateXML(xml)),
      domainLookupByUUIDString: wrap("domainLookupByUUIDString", (uuid: string) => real.domainLookupByUUIDString(uuid)),
      domainGetUUIDString: wrap("domainGetUUIDString", (d: Domain) => real.domainGetUUIDString(d)),
      domainGetInfo: wrap("domainGetInfo", (d: Domain) => real.domainGetInfo(d)),
      domainGetXMLDesc: wrap("domainGetXMLDesc", (d: Domain, flags?: DomainGetXMLDescFlags) =>
        real.domainGetXMLDesc(d, flags),
      ),
      domainShutdown: wrap("domainShutdown", (d: Domain) => real.domainShutdown(d)),
      domainDestroy: wrap("domainDestroy", (d: Domain) => real.domainDestroy(d)),
    };
    return connection;
  };
  return { connect, probe };
}

/** The FroctalError a promise rejects with (failing the test if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<FroctalError> {
  const error = await promise.then(
    () => undefined,
    (cause: unknown) => cause,
  );
  expect(error).toBeInstanceOf(FroctalError);
  return error as FroctalError;
}

/**
 * A test file's drivers on test:///default, with the tests' templates and
 * fast polling, and a Bystander to look behind them. Registers the file's
 * hooks: the bystander open for the file; after each test every driver made
 * here closed and the domains of this run destroyed.
 */
export function testDrivers(): {
  driver(options?: Partial<LibvirtDriverOptions>): LibvirtDriver;
  readonly bystander: Bystander;
} {
  const open: LibvirtDriver[] = [];
  const bystander = new Bystander();
  beforeAll(() => bystander.open());
  afterAll(() => bystander.close());
  afterEach(async () => {
    await Promise.all(open.splice(0).map((d) => d.close()));
    await bystander.destroyOurs();
  });
  return {
    bystander,
    driver(options = {}) {
      const made = createLibvirtDriver({
        uris: ["test:///default"],
        templates: TEMPLATES,
        pollMs: 25,
        callTimeoutMs: 3000,
        ...options,
      });
      open.push(made);
      return made;
    },
  };
}
