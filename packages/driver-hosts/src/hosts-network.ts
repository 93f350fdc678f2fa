/**
 * The network as the hosts run it: each host whose guests are on a network of
 * its own (`froctal host --network`, or the manager's own with `froctal up
 * --network`) takes part in every network generation, given the fleet's
 * network state as far as it concerns its guests: the backends and routers
 * placed on it. The hosts' networks are not linked: a VIP is served on each
 * host by that host's backends.
 *
 * Prepare goes to every such host that is up; the generation is prepared only
 * if each of them prepared it. Commit goes to those that prepared; each host
 * applies its part atomically, but the hosts are not one switch: if one
 * refuses, the others keep the generation and the core offers it again (a
 * host's network converges on a generation it has). A host that comes up, or
 * back, is given the last committed generation once it has reported its
 * guests, so its bridge holds what the fleet committed.
 */
import type { NetworkDriver, NetworkSpec } from "@froctal/manager";
import { FroctalError, toFroctalError } from "@froctal/primitives";
import type { Host } from "./host.js";
import type { HostsDriver } from "./hosts-driver.js";

export interface HostsNetworkOptions {
  /** The host id of the manager's own process, named without "on host" in the description. */
  readonly localHost?: string;
  /** Hears what goes wrong outside a generation (an abort or a catch-up a host refused), a sentence each. */
  readonly log?: (message: string, fields: Readonly<Record<string, unknown>>) => void;
}

interface Prepared {
  readonly desired: NetworkSpec;
  readonly hosts: readonly Host[];
}

export class HostsNetwork implements NetworkDriver {
  readonly #hosts: HostsDriver;
  readonly #o: HostsNetworkOptions;
  readonly #prepared = new Map<number, Prepared>();
  #committed: { readonly generation: number; readonly desired: NetworkSpec } | undefined;
  /** Counts catch-ups, so each one's actions have keys of their own. */
  #catchUps = 0;

  constructor(hosts: HostsDriver, options: HostsNetworkOptions = {}) {
    this.#hosts = hosts;
    this.#o = options;
    hosts.onReported((host) => this.#catchUp(host));
  }

  /** The networks of the hosts up now: "openvswitch bridge fr1; openvswitch bridge fr2 on host b". */
  get description(): string {
    const parts = this.#hosts
      .networked()
      .map((h) => (h.id === this.#o.localHost ? h.info.network! : `${h.info.network} on host ${h.id}`));
    return parts.length === 0 ? "the hosts' networks (none up)" : parts.join("; ");
  }

  async prepare(generation: number, desired: NetworkSpec): Promise<void> {
    const hosts = this.#hosts.networked();
    this.#prepared.set(generation, { desired, hosts });
    await this.#onAll(hosts, "prepare", generation, (host) => ({
      key: `network-prepare:${generation}`,
      kind: "networkPrepare",
      generation,
      desired: this.#partOf(host, desired),
    }));
  }

  async commit(generation: number): Promise<void> {
    const prepared = this.#prepared.get(generation);
    if (prepared === undefined) {
      throw new FroctalError("FROCTAL_E_CONFIG", `network generation ${generation} is not prepared on the hosts`);
    }
    await this.#onAll(prepared.hosts, "commit", generation, () => ({
      key: `network-commit:${generation}`,
      kind: "networkCommit",
      generation,
    }));
    for (const older of this.#prepared.keys()) if (older <= generation) this.#prepared.delete(older);
    this.#committed = { generation, desired: prepared.desired };
    // A host that came up while this generation was prepared was given the one before: it gets this one too.
    for (const host of this.#hosts.networked()) if (!prepared.hosts.includes(host)) this.#catchUp(host);
  }

  abort(generation: number): void {
    const prepared = this.#prepared.get(generation);
    this.#prepared.delete(generation);
    for (const host of prepared?.hosts ?? []) {
      host.act({ key: `network-abort:${generation}`, kind: "networkAbort", generation }).catch((error: unknown) => {
        this.#log(`host ${host.id} did not abort network generation ${generation}: ${toFroctalError(error).sentence}`, {
          host: host.id,
        });
      });
    }
  }

  /** The fleet's network state as far as it concerns the guests placed on `host`. */
  #partOf(host: Host, desired: NetworkSpec): NetworkSpec {
    const here = (instanceId: string) => this.#hosts.hostOf(instanceId) === host.id;
    const services = Object.fromEntries(
      Object.entries(desired.services ?? {}).map(([name, s]) => [name, { ...s, backends: s.backends.filter(here) }]),
    );
    return { services, routes: (desired.routes ?? []).filter((route) => here(route.via)) };
  }

  /** Runs one step on every host; rejects with the first refusal, naming its host, once all have answered. */
  async #onAll(
    hosts: readonly Host[],
    step: string,
    generation: number,
    action: (host: Host) => Parameters<Host["act"]>[0],
  ): Promise<void> {
    const results = await Promise.allSettled(hosts.map((host) => host.act(action(host))));
    const failed = results.findIndex((r) => r.status === "rejected");
    if (failed < 0) return;
    const error = toFroctalError((results[failed] as PromiseRejectedResult).reason);
    throw new FroctalError(
      error.code,
      `host ${hosts[failed]!.id} did not ${step} network generation ${generation}: ${error.sentence}`,
      { cause: error, retryable: error.retryable },
    );
  }

  /** A host that (re)joined gets the last committed generation: prepared and committed there alone. */
  #catchUp(host: Host): void {
    const committed = this.#committed;
    if (committed === undefined || (host.info.network ?? "") === "") return;
    const { generation, desired } = committed;
    const tag = `${generation}/catch-up-${++this.#catchUps}`;
    void host
      .act({ key: `network-prepare:${tag}`, kind: "networkPrepare", generation, desired: this.#partOf(host, desired) })
      .then(() => host.act({ key: `network-commit:${tag}`, kind: "networkCommit", generation }))
      .catch((error: unknown) => {
        this.#log(`host ${host.id} did not take network generation ${generation}: ${toFroctalError(error).sentence}`, {
          host: host.id,
        });
      });
  }

  #log(message: string, fields: Readonly<Record<string, unknown>>): void {
    this.#o.log?.(message, fields);
  }
}
