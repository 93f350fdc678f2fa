import { type ErrorCode, FroctalError } from "@froctal/primitives";
import type { Campaign, Etcd3, Watcher } from "etcd3";
import { createClient, withRetries } from "./client.js";
import { etcdFailure } from "./errors.js";
import { DEFAULT_PREFIX } from "./keys.js";
import type { WriteGuard } from "./txn.js";

export interface CampaignOptions {
  /** Client URLs of the cluster's members; any one that answers will do. */
  readonly endpoints: readonly string[];
  /** The fleet whose managers compete: one election per fleet. */
  readonly fleet: string;
  /** This manager's name, stored as the campaign key's value (what an observer shows). */
  readonly candidateId: string;
  /** The lease's TTL: a dead leader is replaced after at most this long. Default 5; etcd raises 1 to 2. */
  readonly ttlSeconds?: number;
  /** The same prefix as the fleet's state (default "/froctal/"); the election lives under `<prefix>leaders/`. */
  readonly prefix?: string;
  /** How long one unary call to etcd may take, retries on other members included. Default 5000. */
  readonly dialTimeoutMs?: number;
  /** Called once, with a sentence, when a leader stops leading without resigning (lease lost, key deleted). */
  readonly onLost?: (why: string) => void;
}

export interface Leadership {
  /**
   * Resolves once this candidate leads, its campaign key checked to exist.
   * Rejects if it never will: etcd unreachable (FROCTAL_E_TRANSPORT, naming the endpoints), the lease
   * lost or resign()/close() first (FROCTAL_E_CLOSED). Campaign again with a new campaign().
   */
  readonly elected: Promise<void>;
  /** True from `elected` until the lease is lost, the key deleted, or resign()/close(). */
  readonly leading: boolean;
  /**
   * The guard for openEtcdState's `guard` option. Never undefined, so a store
   * wired to it never writes unfenced: before election it names a revision no
   * key can have (every write refused); from election on, the campaign key and
   * its create revision, which etcd lets through only while that key exists, so
   * only while no successor can have been elected.
   */
  guard(): WriteGuard;
  /** Clean handover: revokes the lease, so a standby is elected at once. */
  resign(): Promise<void>;
  /** Resigns (best effort: an unreachable etcd lets the lease expire instead) and closes the client. */
  close(): Promise<void>;
}

/** etcd3 names its keys `<namespace>election/<name>/<lease id>`: here `<prefix>leaders/election/<fleet>/<lease id>`. */
export function electionPrefix(prefix: string, fleet: string): string {
  return `${prefix}leaders/election/${encodeURIComponent(fleet)}/`;
}

/** No key ever has this create revision (etcd's start at 1; 0 means "absent"): a compare on it always fails. */
const NEVER = "-1";

type Phase = "campaigning" | "leading" | "lost" | "resigned";

/** Starts campaigning at once for the leadership of `options.fleet`. */
export function campaign(options: CampaignOptions): Leadership {
  const prefix = options.prefix ?? DEFAULT_PREFIX;
  const ttl = options.ttlSeconds ?? 5;
  const timeoutMs = options.dialTimeoutMs ?? 5000;
  if (options.endpoints.length === 0) throw new FroctalError("FROCTAL_E_CONFIG", "no etcd endpoint was given");
  if (!prefix.endsWith("/"))
    throw new FroctalError("FROCTAL_E_CONFIG", `the etcd key prefix ${JSON.stringify(prefix)} does not end with "/"`);
  if (!Number.isInteger(ttl) || ttl < 1)
    throw new FroctalError("FROCTAL_E_CONFIG", `the leader lease TTL ${ttl} s is not a whole number of seconds >= 1`);
  return new EtcdLeadership(createClient(options.endpoints, timeoutMs), options, prefix, ttl, timeoutMs);
}

class EtcdLeadership implements Leadership {
  readonly elected: Promise<void>;
  readonly #client: Etcd3;
  readonly #campaign: Campaign;
  readonly #options: CampaignOptions;
  readonly #timeoutMs: number;
  readonly #where: string;
  #phase: Phase = "campaigning";
  #guard: WriteGuard;
  #watcher: Promise<Watcher> | undefined;
  #settle!: { resolve: () => void; reject: (error: FroctalError) => void };
  #closed: Promise<void> | undefined;

  constructor(client: Etcd3, options: CampaignOptions, prefix: string, ttl: number, timeoutMs: number) {
    this.#client = client;
    this.#options = options;
    this.#timeoutMs = timeoutMs;
    this.#where = options.endpoints.join(",");
    this.#guard = { key: electionPrefix(prefix, options.fleet), createRevision: NEVER };
    this.elected = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Nobody may have to await `elected` (a standby that only closes): never an unhandled rejection.
    this.elected.catch(() => undefined);
    this.#campaign = client
      .namespace(`${prefix}leaders/`)
      .election(encodeURIComponent(options.fleet), ttl)
      .campaign(options.candidateId);
    // etcd3 emits `error` twice for one failure: the listener stays, and #lose ignores all but the first.
    this.#campaign.on("error", (error: Error) => {
      const failure = etcdFailure(error, "its campaign failed", this.#where, timeoutMs);
      this.#lose(failure.sentence, failure.code);
    });
    this.#campaign.on("elected", () => void this.#confirm());
  }

  get leading(): boolean {
    return this.#phase === "leading";
  }

  guard(): WriteGuard {
    return this.#guard;
  }

  /** etcd3 can emit `elected` after the lease is gone: lead only once the key is read back, with its create revision. */
  async #confirm(): Promise<void> {
    if (this.#phase !== "campaigning") return;
    let key: string;
    let found: { readonly revision: string; readonly createRevision: string | undefined };
    try {
      key = await this.#campaign.getCampaignKey();
      const response = await withRetries(this.#timeoutMs, (call) =>
        this.#client.kv.range({ key: Buffer.from(key) }, call),
      );
      found = { revision: response.header.revision, createRevision: response.kvs[0]?.create_revision };
    } catch (cause) {
      const failure = etcdFailure(cause, "its campaign key could not be read", this.#where, this.#timeoutMs);
      this.#lose(failure.sentence, failure.code);
      return;
    }
    if (this.#phase !== "campaigning") return;
    if (found.createRevision === undefined) {
      this.#lose(`its campaign key ${key} was gone when it was elected (its lease had expired)`);
      return;
    }
    this.#guard = { key, createRevision: found.createRevision };
    this.#phase = "leading";
    this.#watchDeletion(key, found.revision);
    this.#settle.resolve();
  }

  /** A key deleted by hand (or by a lease expiry the keepalive has not heard of yet) ends the leadership too. */
  #watchDeletion(key: string, readAt: string): void {
    const watcher = this.#client
      .watch()
      .key(key)
      .startRevision(String(BigInt(readAt) + 1n))
      .only("delete")
      .create();
    this.#watcher = watcher;
    watcher.then(
      (w) => w.on("delete", () => this.#lose(`its leader key ${key} was deleted`)),
      () => undefined, // Only when the client closes: the lease's keepalive still tells a loss.
    );
  }

  /** `code` is for `elected`'s rejection: FROCTAL_E_TRANSPORT (retryable) when etcd could not be reached. */
  #lose(why: string, code: ErrorCode = "FROCTAL_E_CLOSED"): void {
    const was = this.#phase;
    if (was === "lost" || was === "resigned") return;
    this.#phase = "lost";
    const sentence = `${this.#options.candidateId} no longer leads fleet ${JSON.stringify(this.#options.fleet)}: ${why}`;
    this.#settle.reject(new FroctalError(code, sentence));
    this.#stopWatching();
    // The key may outlive the loss (etcd unreachable from here only): revoking it lets a standby in sooner.
    this.#campaign.resign().catch(() => undefined);
    if (was === "leading") this.#options.onLost?.(sentence);
  }

  async resign(): Promise<void> {
    if (this.#phase === "resigned") return;
    this.#phase = "resigned";
    this.#settle.reject(new FroctalError("FROCTAL_E_CLOSED", `${this.#options.candidateId} resigned before it led`));
    this.#stopWatching();
    try {
      // Once only: etcd3 marks the campaign resigned before revoking, so a second call would do nothing.
      await this.#campaign.resign();
    } catch (cause) {
      throw etcdFailure(cause, "the leader lease could not be revoked", this.#where, this.#timeoutMs);
    }
  }

  close(): Promise<void> {
    this.#closed ??= this.resign()
      .catch(() => undefined) // Unreachable etcd: the lease expires by itself within its TTL.
      .finally(() => this.#client.close());
    return this.#closed;
  }

  #stopWatching(): void {
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.then((w) => w.cancel()).catch(() => undefined);
  }
}
