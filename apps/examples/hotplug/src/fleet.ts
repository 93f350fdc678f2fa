/**
 * The hot-plug scenario: a guest reports its NICs as devices; the policy tells
 * it to send its traffic over the fastest one. A faster NIC appearing moves it
 * there; that NIC going away moves it back. The devices are the only input:
 * nothing here is stored by hand, the uplink is derived.
 *
 *   froctal up apps/examples/hotplug
 *
 * NICs are files: $FROCTAL_DEVICE_DIR/<instance>/<nic>.json holding
 * {"speed_mbps": 10000} (FROCTAL_DEVICE_DIR defaults to <tmpdir>/froctal-devices).
 * The guest seeds its directory with a 1 Gb/s eth0 when it does not exist yet.
 */
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defineFleet, type InstanceView } from "@froctal/manager";

const deviceDir = process.env.FROCTAL_DEVICE_DIR || join(tmpdir(), "froctal-devices");

/** The id of the fastest NIC (the smaller id among equals), or null when there is none. */
export function fastestNic(devices: InstanceView["devices"]): string | null {
  let best: { id: string; speed: number } | null = null;
  for (const d of devices.values()) {
    const speed = Number(d.properties.speed_mbps);
    if (d.kind !== "nic" || !Number.isFinite(speed)) continue;
    if (best === null || speed > best.speed || (speed === best.speed && d.id < best.id)) best = { id: d.id, speed };
  }
  return best?.id ?? null;
}

export default defineFleet({
  name: "hotplug",
  services: {
    guest: {
      image: fileURLToPath(import.meta.resolve("@froctal/example-nic-guest")),
      replicas: 1,
      env: { FROCTAL_DEVICE_DIR: deviceDir, FROCTAL_DEVICE_SEED: JSON.stringify({ eth0: { speed_mbps: 1000 } }) },
      startTimeoutMs: 20_000,
      config: (_fleet, self) => ({ uplink: fastestNic(self.devices) }),
    },
  },
});
