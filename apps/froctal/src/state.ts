/**
 * Where a manager keeps what must survive it: SQLite in its state directory
 * (the embedded default), or an etcd cluster (`--state etcd://host:2379,host2:2379`).
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import type { StateStore } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";
import { campaign, type Leadership, openEtcdState } from "@froctal/state-etcd";
import { openSqliteState } from "@froctal/state-sqlite";

export interface OpenedState {
  readonly state: StateStore;
  /** Where it is, for logs: a file, or etcd's endpoints and prefix. */
  readonly where: string;
}

/**
 * `url` undefined: SQLite in `dir`; `etcd://host:port[,host:port...]`: that
 * cluster, and with `leadership` every write is fenced by it (a manager that
 * no longer leads writes nothing).
 */
export function openState(
  url: string | undefined,
  dir: string,
  onError: (error: FroctalError) => void,
  leadership?: Leadership,
): OpenedState {
  if (url === undefined) {
    const state = openSqliteState({ dir, onError });
    return { state, where: state.path };
  }
  const guard = leadership === undefined ? {} : { guard: () => leadership.guard() };
  const state = openEtcdState({ endpoints: etcdEndpoints(url), onError, ...guard });
  return { state, where: state.where };
}

/**
 * With state in etcd, several managers of one fleet may run: each campaigns,
 * one leads, the others stand by until it is gone (its lease expires after
 * `ttlSeconds`). `onLost` hears at once when this one no longer leads.
 */
export function campaignFor(
  url: string,
  fleet: string,
  ttlSeconds: number,
  address: string,
  onLost: (why: string) => void,
): { readonly leadership: Leadership; readonly candidateId: string } {
  const candidateId = `${hostname()}-${process.pid}-${randomBytes(4).toString("hex")}`;
  const leadership = campaign({ endpoints: etcdEndpoints(url), fleet, candidateId, address, ttlSeconds, onLost });
  return { leadership, candidateId };
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
