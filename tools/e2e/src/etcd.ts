/**
 * etcd for an end-to-end test: a cluster of `members` (default one) from
 * @froctal/etcd-members (Debian's etcd binary as `tools/setup/ensure.sh --test`
 * unpacks it, data in a temp folder, free loopback ports, never 2379/2380
 * where a system etcd may listen); stop() SIGKILLs them and removes their data.
 */
import { startCluster } from "@froctal/etcd-members";

export interface Etcd {
  /** etcd://127.0.0.1:PORT[,127.0.0.1:PORT...], as `froctal up --state` takes it. */
  readonly stateUrl: string;
  stop(): Promise<void>;
}

export async function startEtcd(members = 1): Promise<Etcd> {
  const cluster = await startCluster(members);
  // Each member's client URL is http://127.0.0.1:PORT; `--state` names the same addresses with the etcd scheme.
  const hosts = cluster.endpoints.map((endpoint) => new URL(endpoint).host);
  return { stateUrl: `etcd://${hosts.join(",")}`, stop: () => cluster.stop() };
}
