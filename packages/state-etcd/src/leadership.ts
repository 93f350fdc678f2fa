import { type ErrorCode, FroctalError } from "@froctal/primitives";
import type { Campaign, Etcd3, Lease, Namespace, Watcher } from "etcd3";
import { createClient, withRetries } from "./client.js";
import { etcdFailure } from "./errors.js";
import { DEFAULT_PREFIX } from "./keys.js";
import type { WriteGuard } from "./txn.js";

export interface CampaignOptions {
  /** Client URLs of the cluster's members; any one that answers will do. */
  readonly endpoints: readonly string[];
  /** The fleet whose managers compete: one election per fleet. */
  readonly fleet: string;
  /** This manager's name, stored in the campaign key's value (what an observer shows). */
  readonly candidateId: string;
  /** Where this candidate serves once it leads (its agent address), stored beside its name for candidates(). */
  readonly address?: string;
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
  /**
   * Every candidate of the fleet now campaigning, this one included, oldest
   * first (the leader, then the standbys in the order they would lead), as
   * their campaign keys say. Candidates that gave no address, or whose key
   * froctal did not write, are listed with an empty address.
   */
  candidates(): Promise<readonly Candidate[]>;
  /** Clean handover: revokes the lease, so a standby is elected at once. */
  resign(): Promise<void>;
  /** Resigns (best effort: an unreachable etcd lets the lease expire instead) and closes the client. */
  close(): Promise<void>;
}

export interface Candidate {
  readonly candidateId: string;
  readonly address: string;
}

/** etcd3 names its keys `<namespace>election/<name>/<lease id>`: here `<prefix>leaders/election/<fleet>/<lease id>`. */
export function electionPrefix(prefix: string, fleet: string): string {
  return `${prefix}leaders/election/${encodeURIComponent(fleet)}/`;
}

/** The end of the range of keys that start with `prefix` (etcd's range_end): its last byte raised by one. */
function prefixEnd(prefix: string): Buffer {
  const end = Buffer.from(prefix);
  end[end.length - 1] = (end[end.length - 1] ?? 0) + 1;
  return end;
}

/** A campaign key's value: `{ candidateId, address }` as campaign() writes it; anything else is named as it is, with no address. */
function candidateOf(value: string): Candidate {
  try {
    const parsed = JSON.parse(value) as { candidateId?: unknown; address?: unknown };
    if (typeof parsed.candidateId === "string" && typeof parsed.address === "string") {
      return { candidateId: parsed.candidateId, address: parsed.address };
    }
  } catch {
    // Not JSON: not written by this campaign().
  }
  return { candidateId: value, address: "" };
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

/**
 * Whether the lease is surely still alive, reckoned on this side: etcd expires
 * a lease no sooner than TTL after it received the last renewal, which is after
 * this side sent it. So the lease is alive until (the time the last answered
 * keepalive was sent) + its TTL, whatever etcd or the network do meanwhile.
 * etcd3 itself calls a lease lost only after 2 TTLs without an answer: a
 * leader cut off from etcd would act on for a TTL after its successor could
 * have been elected. `onExpiring` fires `marginMs` before the lease may expire,
 * unless a renewal came first.
 */
class LeaseWatch {
  #aliveUntil: number;
  /** When each keepalive not yet answered was sent, oldest first (answers come in order on one stream). */
  readonly #sent: number[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly #ttlMs: number;
  readonly #marginMs: number;
  readonly #onExpiring: (silentMs: number) => void;
  #lastAnswerSentAt: number;

  constructor(lease: Lease, ttlSeconds: number, onExpiring: (silentMs: number) => void) {
    const now = performance.now();
    this.#ttlMs = ttlSeconds * 1000;
    this.#marginMs = Math.min(250, this.#ttlMs / 10);
    this.#onExpiring = onExpiring;
    // The grant is asked for as the campaign is made: no sooner than now.
    this.#lastAnswerSentAt = now;
    this.#aliveUntil = now + this.#ttlMs;
    lease.on("keepaliveFired", () => this.#sent.push(performance.now()));
    lease.on("keepaliveSucceeded", (answer: { TTL: string }) => {
      const sentAt = this.#sent.shift() ?? performance.now();
      // etcd may grant more than asked (1 s becomes 2 s); never count on less than asked.
      const ttlMs = Math.max(Number(answer.TTL) * 1000, this.#ttlMs);
      if (sentAt + ttlMs > this.#aliveUntil) {
        this.#lastAnswerSentAt = sentAt;
        this.#aliveUntil = sentAt + ttlMs;
        if (this.#timer !== undefined) this.arm();
      }
    });
    // A failed stream takes its unanswered keepalives with it; the next stream starts afresh.
    lease.on("keepaliveFailed", () => this.#sent.splice(0));
  }

  /** Starts (or moves) the alarm: from election on. */
  arm(): void {
    this.disarm();
    const wait = Math.max(0, this.#aliveUntil - this.#marginMs - performance.now());
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#onExpiring(Math.round(performance.now() - this.#lastAnswerSentAt));
    }, wait);
  }

  disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/**
 * A standby's campaign waits on its predecessor's key with a watch (in the
 * election's own namespace) that etcd3 1.1.2 never cancels, not even on
 * resign: its stream keeps the channel (and the process) alive after close(),
 * and the manager dials again for it when the stream ends. With no watcher
 * left and the stream cancelled, nothing is left to dial for.
 */
function forgetWatches(namespace: Namespace | undefined): void {
  type Manager = { watchers?: unknown[]; stream?: { cancel(): void } };
  const manager = (namespace as unknown as { watchManager?: Manager } | undefined)?.watchManager;
  if (manager?.watchers === undefined) return;
  manager.watchers = [];
  // The stream in flight holds its channel open past close(): cancelled, it ends, and is not dialled again.
  manager.stream?.cancel();
}

/** etcd3 1.1.2 keeps a campaign's lease in a field it does not declare: read it, and fail loudly if an upgrade moved it. */
function leaseOf(campaign: Campaign): Lease {
  const lease = (campaign as unknown as { lease?: Lease }).lease;
  if (lease === undefined || typeof lease.on !== "function") {
    throw new FroctalError(
      "FROCTAL_E_INTERNAL",
      "etcd3's Campaign no longer has a lease field: the lease watch needs it",
    );
  }
  return lease;
}

class EtcdLeadership implements Leadership {
  readonly elected: Promise<void>;
  readonly #client: Etcd3;
  readonly #campaign: Campaign;
  readonly #options: CampaignOptions;
  readonly #timeoutMs: number;
  readonly #where: string;
  readonly #leaseWatch: LeaseWatch;
  readonly #electionPrefix: string;
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
    this.#electionPrefix = electionPrefix(prefix, options.fleet);
    this.#guard = { key: this.#electionPrefix, createRevision: NEVER };
    this.elected = new Promise((resolve, reject) => {
      this.#settle = { resolve, reject };
    });
    // Nobody may have to await `elected` (a standby that only closes): never an unhandled rejection.
    this.elected.catch(() => undefined);
    this.#campaign = client
      .namespace(`${prefix}leaders/`)
      .election(encodeURIComponent(options.fleet), ttl)
      .campaign(JSON.stringify({ candidateId: options.candidateId, address: options.address ?? "" }));
    // etcd3 emits `error` twice for one failure: the listener stays, and #lose ignores all but the first.
    this.#campaign.on("error", (error: Error) => {
      const failure = etcdFailure(error, "its campaign failed", this.#where, timeoutMs);
      this.#lose(failure.sentence, failure.code);
    });
    this.#campaign.on("elected", () => void this.#confirm());
    this.#leaseWatch = new LeaseWatch(leaseOf(this.#campaign), ttl, (silentMs) =>
      this.#lose(
        `its lease was last renewed ${silentMs} ms ago (TTL ${ttl} s): etcd may be out of reach, and a successor may be elected once the lease expires`,
      ),
    );
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
    this.#leaseWatch.arm();
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
    const fleet = JSON.stringify(this.#options.fleet);
    const sentence =
      was === "leading"
        ? `${this.#options.candidateId} no longer leads fleet ${fleet}: ${why}`
        : `${this.#options.candidateId} cannot campaign to lead fleet ${fleet}: ${why}`;
    this.#settle.reject(new FroctalError(code, sentence));
    this.#stopWatching();
    // The key may outlive the loss (etcd unreachable from here only): revoking it lets a standby in sooner.
    this.#campaign.resign().catch(() => undefined);
    if (was === "leading") this.#options.onLost?.(sentence);
  }

  async candidates(): Promise<readonly Candidate[]> {
    const prefix = this.#electionPrefix;
    let response: Awaited<ReturnType<Etcd3["kv"]["range"]>>;
    try {
      const key = Buffer.from(prefix);
      const rangeEnd = Buffer.from(prefixEnd(prefix));
      response = await withRetries(this.#timeoutMs, (call) =>
        this.#client.kv.range({ key, range_end: rangeEnd, sort_target: "Create", sort_order: "Ascend" }, call),
      );
    } catch (cause) {
      throw etcdFailure(cause, "the fleet's candidates could not be read", this.#where, this.#timeoutMs);
    }
    return response.kvs.map((kv) => candidateOf(kv.value.toString()));
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
      .finally(() => {
        forgetWatches((this.#campaign as unknown as { namespace?: Namespace }).namespace);
        forgetWatches(this.#client);
        this.#client.close();
      });
    return this.#closed;
  }

  #stopWatching(): void {
    this.#leaseWatch.disarm();
    const watcher = this.#watcher;
    this.#watcher = undefined;
    watcher?.then((w) => w.cancel()).catch(() => undefined);
  }
}
