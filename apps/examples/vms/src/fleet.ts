/**
 * VM guests on libvirt: each instance is a QEMU domain booted from a froctal
 * guest image (tools/guest-image: a cloud kernel and an initramfs with node
 * and apps/examples/vm-guest), reached through its virtio-serial channel, so
 * no token travels. The guest reports its NICs as devices: hot-plug one with
 * `virsh attach-device DOMAIN nic.xml --live` (or the driver's attachDevice)
 * and it arrives as device-added. The policy derives each guest's
 * configuration from its devices, as apps/examples/hotplug does: { uplink:
 * <its first NIC, by name> } (a domain boots with none, so null until one is
 * plugged in), and the guest switches on commit.
 *
 *   sh tools/setup/private-libvirtd.sh   # as root, in a terminal of its own: prints its URI
 *   node tools/guest-image/dist/build.js --app apps/examples/vm-guest/src/main.ts --out /tmp/vm-image
 *   FROCTAL_LIBVIRT_URI='<that URI>' FROCTAL_GUEST_IMAGE=/tmp/vm-image froctal up apps/examples/vms
 *
 * Settings (environment, read when the module loads):
 *   FROCTAL_GUEST_IMAGE  folder with vmlinuz and initrd.img (required)
 *   VM_REPLICAS          how many guests (default 2)
 *   FROCTAL_LIBVIRT_URI  the libvirtd to run on: default qemu:///system (a system libvirtd of your
 *                        own); tools/setup/private-libvirtd.sh and the tests give
 *                        qemu:///system?socket=<its folder>/sock/libvirt-sock
 *   FROCTAL_VM_RUN_DIR   where channel sockets and console logs go (default /run/froctal/vms)
 *   VM_VIP               the VIP the ready guests are served at on port 8080 (default 10.77.0.10)
 *
 * With `froctal up --network ovs:BRIDGE[,SUBNET]` each VM gets a NIC on the
 * bridge (a tap the network makes, its address on the kernel command line)
 * and the ready VMs answer at VM_VIP:8080 (give a VIP of SUBNET's .2-.63);
 * without it they have no NIC and the network policy is ignored.
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLibvirtDriver, type LibvirtDriver } from "@froctal/driver-libvirt";
import { type DriverContext, defineFleet, type InstanceView, type NicNetwork } from "@froctal/manager";

const imageDir = process.env.FROCTAL_GUEST_IMAGE ?? "";
const runDir = process.env.FROCTAL_VM_RUN_DIR || "/run/froctal/vms";
const replicas = Number(process.env.VM_REPLICAS ?? 2);
const vip = process.env.VM_VIP || "10.77.0.10";

/** The NIC a guest sends its traffic over: its first by name, or null while it has none. */
export function uplinkOf(devices: InstanceView["devices"]): string | null {
  const nics = [...devices.values()].filter((d) => d.kind === "nic").map((d) => d.id);
  return nics.sort()[0] ?? null;
}

export default defineFleet({
  name: "vms",
  services: {
    vm: {
      image: "vm",
      replicas,
      // Boot under software emulation takes seconds; stopping is a power-button press, then destroy.
      startTimeoutMs: 120_000,
      stopGraceMs: 3_000,
      drainTimeoutMs: 10_000,
      scaleDown: { stabilizationMs: 1_000 },
      // The guest's 1-minute load average: scale-in drains the least busy VM first.
      loadMetric: "load1",
      config: (_fleet, self) => ({ uplink: uplinkOf(self.devices) }),
    },
  },
  network: (fleet) => ({
    services: { vm: { vip: vip, port: 8080, backends: fleet.service("vm").ready.map((i) => i.id) } },
  }),
});

export function driver(context: DriverContext): LibvirtDriver {
  if (imageDir === "") {
    throw new Error(
      "FROCTAL_E_CONFIG: set FROCTAL_GUEST_IMAGE to a folder with vmlinuz and initrd.img (tools/guest-image)",
    );
  }
  return vmDriver({
    imageDir,
    runDir,
    uri: process.env.FROCTAL_LIBVIRT_URI || "qemu:///system",
    ...(context.nics === undefined ? {} : { nics: context.nics }),
  });
}

/** The libvirt driver this fleet runs on, for these settings (the e2e test makes one of its own to hot-plug with). */
export function vmDriver(o: {
  readonly imageDir: string;
  readonly runDir: string;
  readonly uri: string;
  /** The network's NICs (froctal up --network): each VM gets one. */
  readonly nics?: NicNetwork;
}): LibvirtDriver {
  mkdirSync(o.runDir, { recursive: true });
  return createLibvirtDriver({
    uris: [o.uri],
    templates: {
      vm: {
        xml: readFileSync(new URL("../src/guest.xml", import.meta.url), "utf8"),
        values: { kernel: join(o.imageDir, "vmlinuz"), initrd: join(o.imageDir, "initrd.img"), consoleDir: o.runDir },
      },
    },
    channelDir: o.runDir,
    pollMs: 500,
    ...(o.nics === undefined ? {} : { nics: o.nics }),
  });
}
