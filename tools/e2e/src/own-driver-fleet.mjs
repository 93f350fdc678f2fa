/**
 * A fleet module with a driver of its own that puts no guest on any network:
 * `froctal up --network` must refuse it (vms-ovs.test.ts).
 */
import { createProcessDriver } from "@froctal/driver-process";

export default {
  name: "own-driver",
  services: { idle: { command: ["/bin/sleep", "60"], replicas: 1 } },
};

export function driver() {
  return createProcessDriver({});
}
