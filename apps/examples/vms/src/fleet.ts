/**
 * VM guests on libvirt: each instance is a QEMU domain booted from a froctal
 * guest image (tools/guest-image: a cloud kernel and an initramfs with node
 * and apps/examples/vm-guest), reached through its virtio-serial channel, so
 * no token travels. The guest reports its NICs as devices: hot-plug one with
 * `virsh attach-device DOMAIN nic.xml --live` and it arrives as device-added.
 *
 *   sh tools/setup/libvirtd.sh           # as root: libvirtd + QEMU, once
 *   node tools/guest-image/dist/build.js --app apps/examples/vm-guest/src/main.ts --out /tmp/vm-image
 *   FROCTAL_GUEST_IMAGE=/tmp/vm-image froctal up apps/examples/vms
 *
 * Settings (environment, read when the module loads):
 *   FROCTAL_GUEST_IMAGE  folder with vmlinuz and initrd.img (required)
 *   VM_REPLICAS          how many guests (default 2)
 *   FROCTAL_LIBVIRT_URI  default qemu:///system
 *   FROCTAL_VM_RUN_DIR   where channel sockets and console logs go (default /run/froctal/vms)
 */
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLibvirtDriver } from "@froctal/driver-libvirt";
import { defineFleet } from "@froctal/manager";

const imageDir = process.env.FROCTAL_GUEST_IMAGE ?? "";
const runDir = process.env.FROCTAL_VM_RUN_DIR || "/run/froctal/vms";
const replicas = Number(process.env.VM_REPLICAS ?? 2);

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
    },
  },
});

export function driver() {
  if (imageDir === "") {
    throw new Error(
      "FROCTAL_E_CONFIG: set FROCTAL_GUEST_IMAGE to a folder with vmlinuz and initrd.img (tools/guest-image)",
    );
  }
  mkdirSync(runDir, { recursive: true });
  return createLibvirtDriver({
    uris: [process.env.FROCTAL_LIBVIRT_URI || "qemu:///system"],
    templates: {
      vm: {
        xml: readFileSync(new URL("../src/guest.xml", import.meta.url), "utf8"),
        values: { kernel: join(imageDir, "vmlinuz"), initrd: join(imageDir, "initrd.img"), consoleDir: runDir },
      },
    },
    channelDir: runDir,
    pollMs: 500,
  });
}
