/**
 * One etcd member for an end-to-end test: a cluster of one from
 * @froctal/etcd-members (Debian's etcd binary as `tools/setup/ensure.sh --test`
 * unpacks it, its data in a temp folder, free loopback ports, never 2379/2380
 * where a system etcd may listen); stop() SIGKILLs it and removes its data.
 */
import { startCluster } from "@froctal/etcd-members";

export interface Etcd {
  /** etcd://127.0.0.1:PORT, as `froctal up --state` takes it. */
  readonly stateUrl: string;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<Etcd> {
  const cluster = await startCluster(1);
  // The member's client URL is http://127.0.0.1:PORT; `--state` names the same address with the etcd scheme.
  const { host } = new URL(cluster.endpoints[0]!);
  return { stateUrl: `etcd://${host}`, stop: () => cluster.stop() };
}
