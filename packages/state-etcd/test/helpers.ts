import { type Cluster, startCluster } from "@froctal/etcd-members";
import type { FleetState, InstanceRecord } from "@froctal/manager";
import type { FroctalError } from "@froctal/primitives";
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, expect } from "vitest";
import { type EtcdState, type EtcdStateOptions, openEtcdState } from "../src/etcd-state.js";

export function record(id: string, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id,
    service: "web",
    ordinal: 0,
    token: `token-of-${id}`,
    phase: "starting",
    generation: 0,
    configJson: "",
    ...overrides,
  };
}

/** A fleet's state without its id and secret, which are random; checks they are well formed. */
export function contentOf(state: FleetState): Omit<FleetState, "fleetId" | "hostSecret"> {
  const { fleetId, hostSecret, ...content } = state;
  expect(fleetId).toMatch(/^[0-9a-f]{32}$/);
  expect(hostSecret).toMatch(/^[0-9a-f]{64}$/);
  return content;
}

/** Opens stores and closes them all at the end of each test; each records what reached its onError. */
export class Stores {
  readonly #open: EtcdState[] = [];
  readonly errors: FroctalError[] = [];

  open(options: Omit<EtcdStateOptions, "onError">): EtcdState {
    const store = openEtcdState({ dialTimeoutMs: 2000, ...options, onError: (error) => this.errors.push(error) });
    this.#open.push(store);
    return store;
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.#open.splice(0).map((store) => store.close()));
    this.errors.length = 0;
  }
}

let prefixes = 0;
/** A key prefix no other test of the run uses: the tests of a file share one etcd. */
export function freshPrefix(): string {
  prefixes++;
  return `/test-${prefixes}/`;
}

/**
 * One etcd member for a test file (started before its first test, SIGKILLed
 * after its last), a raw client on it for what froctal would never write, and
 * stores closed after each test.
 */
export function oneMember(): { readonly cluster: Cluster; readonly raw: Etcd3; readonly stores: Stores } {
  let cluster: Cluster | undefined;
  let raw: Etcd3 | undefined;
  const stores = new Stores();
  beforeAll(async () => {
    cluster = await startCluster(1);
    raw = new Etcd3({ hosts: [...cluster.endpoints] });
  }, 20_000);
  afterAll(async () => {
    raw?.close();
    await cluster?.stop();
  });
  afterEach(() => stores.closeAll());
  return {
    get cluster() {
      return cluster!;
    },
    get raw() {
      return raw!;
    },
    stores,
  };
}
