/**
 * The in-process host of the embedded default (`froctal up` without
 * --no-local-host): a Driver of this process joined as one more host, so
 * placement and forwarding are the same for it as for a `froctal host`.
 */
import type { Driver } from "@froctal/manager";
import { type Disposer, toFroctalError } from "@froctal/primitives";
import type { HostAction, HostInfo, HostLink } from "./host.js";
import type { HostsDriver } from "./hosts-driver.js";

/** Joins `driver` to `hosts` as host `id`; the disposer leaves it (closing the driver stays the caller's). */
export function joinLocalHost(hosts: HostsDriver, id: string, driver: Driver, info: HostInfo): Disposer {
  let stopWatching: Disposer = () => {};
  const link: HostLink = {
    send(action: HostAction) {
      const run = action.kind === "start" ? driver.start(action.spec) : driver.stop(action.instanceId, action);
      run.then(
        () => host.settle(action.key),
        (error: unknown) => host.settle(action.key, toFroctalError(error)),
      );
    },
    inventory: (fleet) => driver.list(fleet),
    close() {
      stopWatching();
    },
  };
  const host = hosts.join(id, info, link);
  stopWatching = driver.watch((event) => hosts.event(host, event));
  void driver.list(hosts.identity).then((guests) => hosts.inventory(host, guests));
  return () => {
    link.close();
    hosts.leave(host, link);
  };
}
