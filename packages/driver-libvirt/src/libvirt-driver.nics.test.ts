/**
 * The libvirt driver with a network (`nics`), on libvirt's test driver: each
 * new domain gets an ethernet interface on the tap the network made, and its
 * address on the kernel command line; the NIC is removed once the domain is
 * gone, and when the create fails. The network here is a recording stand-in
 * (the real one, Open vSwitch with QEMU guests, is tools/e2e's vms-ovs test).
 */
import type { GuestNic, NicNetwork } from "@froctal/manager";
import { describe, expect, it } from "vitest";
import { ALPHA, record, rejection, specFor, TEMPLATES, testDrivers } from "../test/helpers.js";
import { domainIdentity } from "./identity.js";

const { driver, bystander } = testDrivers();

/** A network that hands out taps and addresses in order and records every call. */
class RecordingNics implements NicNetwork {
  readonly calls: string[] = [];
  #next = 64;
  answer: ((instanceId: string) => GuestNic) | undefined;

  async join(instanceId: string): Promise<GuestNic> {
    this.calls.push(`join ${instanceId}`);
    if (this.answer !== undefined) return this.answer(instanceId);
    const n = this.#next++;
    return { tap: `fvtap${n}`, mac: `02:00:0a:4d:00:${n.toString(16)}`, address: `10.77.0.${n}/24` };
  }

  async leave(instanceId: string): Promise<void> {
    this.calls.push(`leave ${instanceId}`);
  }
}

const nameOf = (instanceId: string) => domainIdentity("alpha", ALPHA.id, instanceId).name;

describe("libvirt driver with a network", () => {
  it("gives each new domain the network's NIC (tap, MAC, offload off) and its address on the command line; the NIC goes with the domain", async () => {
    const nics = new RecordingNics();
    const d = driver({ nics });
    expect(d.joinsNetwork).toBe(true);
    expect(driver().joinsNetwork).toBe(false);
    const spec = specFor();
    await d.start(spec);
    const xml = (await bystander.xml(nameOf(spec.instanceId)))!;
    const iface = /<interface type='ethernet'>[\s\S]*?<\/interface>/.exec(xml)?.[0] ?? "";
    expect(iface).toContain("<mac address='02:00:0a:4d:00:40'/>");
    expect(iface).toContain("<target dev='fvtap64' managed='no'/>");
    expect(iface).toContain("<model type='virtio'/>");
    expect(iface).toMatch(/<host csum='off'[^>]*gso='off'/);
    expect(iface).toMatch(/<guest csum='off'/);
    expect(/<cmdline>(.*)<\/cmdline>/.exec(xml)?.[1]).toBe(
      `console=ttyS0 froctal.instance=${spec.instanceId}  froctal.ip=10.77.0.64/24`,
    );
    expect(nics.calls).toEqual([`join ${spec.instanceId}`]);

    const { of } = record(d);
    await d.stop(spec.instanceId, { graceMs: 2000 });
    expect(of(spec.instanceId).map((e) => e.kind)).toEqual(["exited"]);
    expect(nics.calls).toEqual([`join ${spec.instanceId}`, `leave ${spec.instanceId}`]);
  });

  it("a domain gone behind its back leaves its NIC once", async () => {
    const nics = new RecordingNics();
    const d = driver({ nics });
    const spec = specFor();
    await d.start(spec);
    await bystander.destroy(nameOf(spec.instanceId));
    await expect
      .poll(() => nics.calls, { timeout: 5000 })
      .toEqual([`join ${spec.instanceId}`, `leave ${spec.instanceId}`]);
    await new Promise((resolve) => setTimeout(resolve, 200)); // several more listings
    expect(nics.calls).toHaveLength(2);
  });

  it("a create libvirt refuses, or a NIC the network got wrong, leaves the NIC it made", async () => {
    const nics = new RecordingNics();
    const bogus = { ...TEMPLATES.guest, xml: TEMPLATES.guest.xml.replace("<type>hvm</type>", "<type>bogus</type>") };
    const d = driver({ nics, templates: { ...TEMPLATES, bogus } });
    const refusedSpec = specFor({ image: "bogus" });
    const refused = await rejection(d.start(refusedSpec));
    expect(refused.message).toMatch(/unknown OS type 'bogus'/);
    expect(nics.calls).toEqual([`join ${refusedSpec.instanceId}`, `leave ${refusedSpec.instanceId}`]);

    const wrong = specFor();
    nics.answer = () => ({ tap: "fv tap", mac: "02:00:0a:4d:00:41", address: "10.77.0.65/24" });
    const bad = await rejection(d.start(wrong));
    expect([bad.code, bad.sentence]).toEqual([
      "FROCTAL_E_INTERNAL",
      `the network gave instance ${wrong.instanceId} a NIC with tap "fv tap", not an interface name`,
    ]);
    expect(nics.calls.slice(2)).toEqual([`join ${wrong.instanceId}`, `leave ${wrong.instanceId}`]);
    expect(await bystander.xml(nameOf(wrong.instanceId))).toBeUndefined();
  });

  it("refuses, when it is created, a template with no <devices> to put the NIC in", () => {
    const bare = {
      xml: "<domain type='test'><name>{{name}}</name><uuid>{{uuid}}</uuid><memory>1024</memory></domain>",
    };
    expect(() => driver({ templates: { bare }, nics: new RecordingNics() })).toThrow(
      'FROCTAL_E_CONFIG: the domain template "bare" has no <devices> to put the guest\'s NIC in, and the driver was given a network',
    );
    expect(() => driver({ templates: { bare } })).not.toThrow();
  });
});
