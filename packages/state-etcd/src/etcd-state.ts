import { randomBytes } from "node:crypto";
import type { FleetState, InstanceRecord, StateStore } from "@froctal/manager";
import { FroctalError, isolate, rethrowLater } from "@froctal/primitives";
import type { Etcd3, ICompare, IRequestOp } from "etcd3";
import { createClient, withRetries } from "./client.js";
import {
  decodeFleet,
  decodeInstance,
  decodeMark,
  encodeInstance,
  encodeMark,
  encodeMeta,
  type StoredKey,
} from "./decode.js";
import { etcdFailure } from "./errors.js";
import { DEFAULT_PREFIX, FORMAT_VERSION, fleetKeys } from "./keys.js";
import { commitTxn, deleteOf, prefixRangeOf, putOf, rangeOf, type WriteGuard } from "./txn.js";

export interface EtcdStateOptions {
  /** Client URLs of the cluster's members, like "http://10.0.0.1:2379"; any one that answers will do. */
  readonly endpoints: readonly string[];
  /** Every key froctal writes starts with this; it ends with "/". Default "/froctal/". */
  readonly prefix?: string;
  /**
   * Hears about writes etcd did not take (unreachable past the deadline:
   * FROCTAL_E_TRANSPORT; a lost guard: FROCTAL_E_CLOSED). Those writes are then
   * lost and the store carries on. Default: rethrown outside any call.
   */
  readonly onError?: (error: FroctalError) => void;
  /** How long one call to etcd may take, retries on other members included. Default 5000. */
  readonly dialTimeoutMs?: number;
  /** Read before every write transaction: when it gives a guard, the write lands only while the guard holds. */
  readonly guard?: () => WriteGuard | undefined;
}

/** The State port on an etcd cluster. */
export interface EtcdState extends StateStore {
  /** The endpoints and prefix, for logs. */
  readonly where: string;
  load(fleet: string): Promise<FleetState>;
}

/** At most this many writes go in one transaction: etcd refuses more than 128 operations (--max-txn-ops), one is the guard's. */
export const MAX_WRITES_PER_TXN = 127;
/** Rounds of compare-and-swap on a mark another writer keeps raising, before the batch is reported lost. */
const MAX_CAS_ROUNDS = 16;

type Write =
  | { readonly kind: "reserve"; readonly key: string; readonly upTo: number; readonly what: string }
  | { readonly kind: "put"; readonly key: string; readonly value: string; readonly what: string }
  | { readonly kind: "delete"; readonly key: string; readonly what: string };

/**
 * Makes a store for the cluster at `options.endpoints`. Nothing is sent yet: an
 * unreachable cluster shows at the first load(), as FROCTAL_E_TRANSPORT naming
 * the endpoints, within dialTimeoutMs.
 */
export function openEtcdState(options: EtcdStateOptions): EtcdState {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const timeoutMs = options.dialTimeoutMs ?? 5000;
  if (options.endpoints.length === 0) throw new FroctalError("FROCTAL_E_CONFIG", "no etcd endpoint was given");
  if (!prefix.endsWith("/"))
    throw new FroctalError("FROCTAL_E_CONFIG", `the etcd key prefix ${JSON.stringify(prefix)} does not end with "/"`);
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0)
    throw new FroctalError("FROCTAL_E_CONFIG", `the etcd dial timeout ${timeoutMs} ms is not a positive duration`);
  const where = `etcd ${options.endpoints.join(",")} ${prefix}`;
  return new EtcdStateStore(createClient(options.endpoints, timeoutMs), {
    prefix,
    timeoutMs,
    where,
    endpoints: options.endpoints.join(","),
    onError: options.onError ?? rethrowLater,
    guard: options.guard ?? (() => undefined),
  });
}

interface Settings {
  readonly prefix: string;
  readonly timeoutMs: number;
  readonly where: string;
  readonly endpoints: string;
  readonly onError: (error: FroctalError) => void;
  readonly guard: () => WriteGuard | undefined;
}

class EtcdStateStore implements EtcdState {
  readonly where: string;
  readonly #client: Etcd3;
  readonly #s: Settings;
  readonly #queue: Write[] = [];
  /**
   * Each mark key (generation, ordinal) as last seen (its value and mod revision): a
   * reservation at or below the value is dropped, one above is a compare-and-swap on the revision.
   */
  readonly #marks = new Map<string, { readonly value: number; readonly revision: string }>();
  readonly #waiters: { readonly upTo: number; readonly resolve: () => void }[] = [];
  #issued = 0;
  #settled = 0;
  #pumping = false;
  #closing: Promise<void> | undefined;

  constructor(client: Etcd3, settings: Settings) {
    this.where = settings.where;
    this.#client = client;
    this.#s = settings;
  }

  /**
   * Claims the fleet's meta (id and host secret) if no one has, and reads the
   * whole fleet, in one transaction: one revision, and two managers racing on a
   * new fleet agree on one id. Not guarded: a standby loads too. Writes issued
   * before load are applied first, so it reads them.
   */
  async load(fleet: string): Promise<FleetState> {
    this.#ensureOpen("load()");
    await this.#settledUpTo(this.#issued);
    const keys = fleetKeys(this.#s.prefix, fleet);
    const meta = encodeMeta({
      format: FORMAT_VERSION,
      fleetId: randomBytes(16).toString("hex"),
      hostSecret: randomBytes(32).toString("hex"),
    });
    const all = prefixRangeOf(keys.root);
    const claim: ICompare = { key: Buffer.from(keys.meta), target: "Create", result: "Equal", create_revision: 0 };
    let kvs: readonly StoredKey[];
    try {
      const response = await withRetries(this.#s.timeoutMs, (options) =>
        this.#client.kv.txn({ compare: [claim], success: [putOf(keys.meta, meta), all], failure: [all] }, options),
      );
      kvs = response.responses[response.succeeded ? 1 : 0]?.response_range.kvs ?? [];
    } catch (cause) {
      throw this.#failure(cause, `the state of fleet ${quote(fleet)} could not be read`);
    }
    const decoded = decodeFleet(keys, kvs);
    this.#saw(keys.generation, decoded.state.reservedGeneration, decoded.generationRevision);
    this.#saw(keys.ordinal, decoded.state.lastOrdinal, decoded.ordinalRevision);
    return decoded.state;
  }

  reserveGenerations(fleet: string, upTo: number): void {
    const what = `the reservation of generations up to ${upTo} for fleet ${quote(fleet)}`;
    this.#ensureOpen("reserveGenerations()");
    this.#reserve(fleetKeys(this.#s.prefix, fleet).generation, upTo, what);
  }

  reserveOrdinals(fleet: string, upTo: number): void {
    const what = `the mark of ordinals up to ${upTo} for fleet ${quote(fleet)}`;
    this.#ensureOpen("reserveOrdinals()");
    this.#reserve(fleetKeys(this.#s.prefix, fleet).ordinal, upTo, what);
  }

  putInstance(fleet: string, record: InstanceRecord): void {
    const what = `the record of instance ${quote(record.id)} in fleet ${quote(fleet)}`;
    this.#ensureOpen("putInstance()");
    const key = fleetKeys(this.#s.prefix, fleet).instance(record.id);
    const value = encodeInstance(record);
    // A record load() would refuse must never reach etcd: it would refuse the whole fleet.
    if (!this.#valid(what, () => decodeInstance(key, value, record.id))) return;
    this.#issue({ kind: "put", key, value, what });
  }

  deleteInstance(fleet: string, instanceId: string): void {
    this.#ensureOpen("deleteInstance()");
    const key = fleetKeys(this.#s.prefix, fleet).instance(instanceId);
    this.#issue({
      kind: "delete",
      key,
      what: `the deletion of instance ${quote(instanceId)} from fleet ${quote(fleet)}`,
    });
  }

  putHost(fleet: string, hostId: string): void {
    this.#ensureOpen("putHost()");
    const key = fleetKeys(this.#s.prefix, fleet).host(hostId);
    this.#issue({ kind: "put", key, value: "", what: `the record of host ${quote(hostId)} in fleet ${quote(fleet)}` });
  }

  /** Resolves once every write issued before it was acknowledged by etcd or, failing, handed to onError. */
  flush(): Promise<void> {
    if (this.#closing !== undefined) return Promise.reject(closedError("flush()"));
    return this.#settledUpTo(this.#issued);
  }

  /** Waits for the writes issued so far, as flush() does, then closes the client; a second close() does nothing. */
  close(): Promise<void> {
    this.#closing ??= this.#settledUpTo(this.#issued).finally(() => this.#client.close());
    return this.#closing;
  }

  /** Queues the raising of a mark; one load() would refuse never reaches etcd. */
  #reserve(key: string, upTo: number, what: string): void {
    if (!this.#valid(what, () => decodeMark(key, encodeMark(upTo)))) return;
    this.#issue({ kind: "reserve", key, upTo, what });
  }

  /** A write of ours may have landed after load's read: keep the newer of the two (marks only rise). */
  #saw(key: string, value: number, revision: string): void {
    if ((this.#marks.get(key)?.value ?? -1) < value) this.#marks.set(key, { value, revision });
  }

  #issue(write: Write): void {
    this.#queue.push(write);
    this.#issued++;
    if (this.#pumping) return;
    this.#pumping = true;
    // After the current task: the writes of one tick go out together, in one transaction.
    queueMicrotask(() => void this.#pump());
  }

  /** Sends the queue one transaction at a time, in order; what piles up meanwhile goes together in the next. */
  async #pump(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0, MAX_WRITES_PER_TXN);
      try {
        await this.#apply(batch);
      } catch (cause) {
        const others = batch.length - 1;
        const more = others === 0 ? "" : ` (and ${others} other write${others === 1 ? "" : "s"} sent with it)`;
        const error = this.#failure(cause, `${batch[0]?.what}${more} was not stored`);
        // A listener that throws must not stop the queue: its error surfaces on its own.
        isolate(() => this.#s.onError(error));
      }
      this.#settled += batch.length;
      for (let i = this.#waiters.length - 1; i >= 0; i--) {
        const waiter = this.#waiters[i];
        if (waiter !== undefined && waiter.upTo <= this.#settled) {
          this.#waiters.splice(i, 1);
          waiter.resolve();
        }
      }
    }
    this.#pumping = false;
  }

  /**
   * One transaction for the batch. Within it, the last write to a key wins (etcd
   * refuses a key twice in one txn), which is what applying them in order gives;
   * reservations of one mark become one, of the highest. A reservation compares
   * the mark's mod revision: if another writer raised it meanwhile, the stored
   * value is read back and the batch sent again without what it covers. An
   * ordinal mark and the record it covers, in one batch, land together.
   */
  async #apply(batch: readonly Write[]): Promise<void> {
    const ops = new Map<string, IRequestOp>();
    const reserve = new Map<string, number>();
    for (const write of batch) {
      switch (write.kind) {
        case "reserve":
          reserve.set(write.key, Math.max(reserve.get(write.key) ?? 0, write.upTo));
          break;
        case "put":
          ops.set(write.key, putOf(write.key, write.value));
          break;
        case "delete":
          ops.set(write.key, deleteOf(write.key));
          break;
      }
    }
    for (let round = 0; round < MAX_CAS_ROUNDS; round++) {
      const marks = [...reserve].filter(([key, upTo]) => upTo > (this.#marks.get(key)?.value ?? 0));
      const success = [...ops.values(), ...marks.map(([key, upTo]) => putOf(key, encodeMark(upTo)))];
      if (success.length === 0) return;
      const compare = marks.map(([key]): ICompare => {
        const revision = this.#marks.get(key)?.revision ?? "0";
        return { key: Buffer.from(key), target: "Mod", result: "Equal", mod_revision: revision };
      });
      const result = await commitTxn(
        this.#client,
        { compare, success, failure: marks.map(([key]) => rangeOf(key)) },
        this.#s.guard(),
        this.#s.timeoutMs,
      );
      if (result.succeeded) {
        for (const [key, upTo] of marks) this.#marks.set(key, { value: upTo, revision: result.revision });
        return;
      }
      for (const [index, [key]] of marks.entries()) {
        const stored = result.responses[index]?.response_range.kvs[0];
        const value = stored === undefined ? 0 : decodeMark(key, stored.value.toString());
        this.#marks.set(key, { value, revision: stored?.mod_revision ?? "0" });
      }
    }
    throw new FroctalError(
      "FROCTAL_E_TIMEOUT",
      `another writer kept raising a mark (generation or ordinal) for ${MAX_CAS_ROUNDS} rounds`,
    );
  }

  #valid(what: string, check: () => unknown): boolean {
    try {
      check();
      return true;
    } catch (cause) {
      const reason = cause instanceof Error ? cause.message : String(cause);
      this.#s.onError(new FroctalError("FROCTAL_E_INTERNAL", `${what} was not stored: ${reason}`, { cause }));
      return false;
    }
  }

  #settledUpTo(upTo: number): Promise<void> {
    if (this.#settled >= upTo) return Promise.resolve();
    return new Promise((resolve) => this.#waiters.push({ upTo, resolve }));
  }

  #failure(cause: unknown, sentence: string): FroctalError {
    return etcdFailure(cause, sentence, this.#s.endpoints, this.#s.timeoutMs);
  }

  #ensureOpen(what: string): void {
    if (this.#closing !== undefined) throw closedError(what);
  }
}

function closedError(what: string): FroctalError {
  return new FroctalError("FROCTAL_E_CLOSED", `${what} was called after the state store was closed`);
}

function quote(name: string): string {
  return JSON.stringify(name);
}
