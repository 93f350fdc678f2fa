/**
 * The in-process host of the embedded default (`froctal up` without
 * --no-local-host): a Driver of this process joined as one more host, so
 * placement and forwarding are the same for it as for a `froctal host`.
 */
import type { Driver, NetworkDriver } from "@froctal/manager";
import { type Disposer, FroctalError, toFroctalError } from "@froctal/primitives";
import type { HostAction, HostInfo, HostLink } from "./host.js";
import type { HostsDriver } from "./hosts-driver.js";

/**
 * Joins `driver` to `hosts` as host `id`, with the network its guests are on
 * if any (`info.network` is then its description); the disposer leaves it
 * (closing the driver and the network stays the caller's).
 */
export function joinLocalHost(
  hosts: HostsDriver,
  id: string,
  driver: Driver,
  info: HostInfo,
  network?: NetworkDriver,
): Disposer {
  let stopWatching: Disposer = () => {};
  const onNetwork = async (step: (network: NetworkDriver) => Promise<void> | void) => {
    if (network === undefined) throw new FroctalError("FROCTAL_E_CONFIG", `host ${id} has no network`);
    await step(network);
  };
  const run = (action: HostAction): Promise<void> => {
    switch (action.kind) {
      case "start":
        return driver.start(action.spec);
      case "stop":
        return driver.stop(action.instanceId, action);
      case "networkPrepare":
        return onNetwork((n) => n.prepare(action.generation, action.desired));
      case "networkCommit":
        return onNetwork((n) => n.commit(action.generation));
      case "networkAbort":
        return onNetwork((n) => n.abort(action.generation));
    }
  };
  const link: HostLink = {
    send(action: HostAction) {
      run(action).then(
        () => host.settle(action.key),
        (error: unknown) => host.settle(action.key, toFroctalError(error)),
      );
    },
    inventory: (fleet) => driver.list(fleet),
    close() {
      stopWatching();
    },
  };
  const host = hosts.join(id, { ...info, network: network?.description ?? "" }, link);
  stopWatching = driver.watch((event) => hosts.event(host, event));
  void driver.list(hosts.identity).then((guests) => hosts.inventory(host, guests));
  return () => {
    link.close();
    hosts.leave(host, link);
  };
}
