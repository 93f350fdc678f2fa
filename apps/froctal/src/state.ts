/**
 * Where a manager keeps what must survive it: SQLite in its state directory
 * (the embedded default), or an etcd cluster (`--state etcd://host:2379,host2:2379`).
 */
import type { StateStore } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";
import { openEtcdState } from "@froctal/state-etcd";
import { openSqliteState } from "@froctal/state-sqlite";

export interface OpenedState {
  readonly state: StateStore;
  /** Where it is, for logs: a file, or etcd's endpoints and prefix. */
  readonly where: string;
}

/** `url` undefined: SQLite in `dir`; `etcd://host:port[,host:port...]`: that cluster. */
export function openState(url: string | undefined, dir: string, onError: (error: FroctalError) => void): OpenedState {
  if (url === undefined) {
    const state = openSqliteState({ dir, onError });
    return { state, where: state.path };
  }
  const state = openEtcdState({ endpoints: etcdEndpoints(url), onError });
  return { state, where: state.where };
}

/** etcd://a:2379,b:2379 -> ["http://a:2379", "http://b:2379"]; anything else is FROCTAL_E_CONFIG. */
export function etcdEndpoints(url: string): string[] {
  const match = /^etcd:\/\/(.+)$/.exec(url);
  const members = match?.[1]?.split(",") ?? [];
  const bad = members.filter((m) => !/^[A-Za-z0-9.-]+:\d{1,5}$/.test(m) && !/^\[[0-9a-fA-F:]+\]:\d{1,5}$/.test(m));
  if (match === null || members.length === 0 || bad.length > 0) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `--state ${url}: give etcd://host:port[,host:port...] (the cluster's client addresses)`,
    );
  }
  return members.map((m) => `http://${m}`);
}
