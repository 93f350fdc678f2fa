import type { Clock } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import type { DomainInfo, DomainState } from "@unraid/libvirt";
import type { ConnectionFactory, Domain, LibvirtConnection } from "./connection.js";
import { failureOf, LibvirtCallError, libvirtError } from "./errors.js";
import type { CallGate } from "./gate.js";
import { type Ownership, readOwnership } from "./ownership.js";
import { child, parseXml } from "./xml.js";

export interface HostSettings {
  readonly clock: Clock;
  readonly gate: CallGate;
  readonly callTimeoutMs: number;
  readonly connect: ConnectionFactory;
}

/** A domain as one listing saw it. */
export interface DomainRecord {
  readonly uuid: string;
  readonly state: DomainState;
  /** Current memory (the balloon's size), KiB. */
  readonly memoryKiB: number;
  readonly vcpus: number;
  /** The domain's name and froctal ownership, when it has froctal metadata. */
  readonly owner: Owner | undefined;
}

export interface Owner {
  readonly name: string;
  readonly ownership: Ownership;
}

export interface Listing {
  /** The connection epoch the listing ran on. */
  readonly epoch: number;
  readonly records: readonly DomainRecord[];
}

/** First wait after a failed connect; doubles per failure up to the cap (every loop is bounded). */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 30_000;

/**
 * One libvirt host: its connection, opened on demand and replaced after a
 * transport failure (with backoff), and every call made to it, each through
 * the shared gate, with a timeout, its failure classified once. The binding
 * has no keepalive, so a dead connection shows only as failing or hanging
 * calls; both drop the connection, and the next call reconnects. `epoch`
 * counts connections, so the driver can tell that a listing predates a
 * reconnect and must be redone before anything destructive.
 */
export class Host {
  readonly uri: string;
  /** Bumped on every successful connect. */
  epoch = 0;
  /** Node capacity from nodeGetInfo, read on each connect. */
  memoryKiB = 0;
  cpus = 0;
  readonly #settings: HostSettings;
  #conn: LibvirtConnection | undefined;
  #opening: Promise<LibvirtConnection> | undefined;
  /** Native calls not yet returned, per connection: a connection is closed only once it has none. */
  readonly #pending = new Map<LibvirtConnection, Set<Promise<unknown>>>();
  readonly #retiring = new Set<Promise<void>>();
  /** Connections given up on: no call may start on them any more, so they can be closed once idle. */
  readonly #retired = new WeakSet<LibvirtConnection>();
  /** Metadata read from each domain's XML, by UUID: it is fixed for a domain's life, so read once. */
  readonly #owners = new Map<string, Owner | null>();
  #backoffMs = 0;
  #retryAt = Number.NEGATIVE_INFINITY;
  #lastError: FroctalError | undefined;
  #closed = false;

  constructor(uri: string, settings: HostSettings) {
    this.uri = uri;
    this.#settings = settings;
  }

  get connected(): boolean {
    return this.#conn !== undefined;
  }

  /** Connected, or free to try: not waiting out a backoff after a failed connect. */
  get available(): boolean {
    return !this.#closed && (this.#conn !== undefined || this.#settings.clock.now() >= this.#retryAt);
  }

  /** The last connect or transport failure, for sentences. */
  get lastError(): FroctalError | undefined {
    return this.#lastError;
  }

  /** Opens the connection if there is none; rejects with FROCTAL_E_TRANSPORT while the host is down. */
  connection(): Promise<LibvirtConnection> {
    if (this.#closed)
      return Promise.reject(new FroctalError("FROCTAL_E_CLOSED", `the connection to ${this.uri} is closed`));
    if (this.#conn !== undefined) return Promise.resolve(this.#conn);
    if (this.#opening === undefined) {
      const { clock } = this.#settings;
      if (clock.now() < this.#retryAt) {
        const wait = Math.ceil(this.#retryAt - clock.now());
        return Promise.reject(
          new FroctalError(
            "FROCTAL_E_TRANSPORT",
            `${this.uri} is unreachable (${this.#lastError?.sentence ?? "no answer"}); next attempt in ${wait} ms`,
          ),
        );
      }
      this.#opening = this.#open().finally(() => {
        this.#opening = undefined;
      });
    }
    return this.#opening;
  }

  /** One call on the current connection: gated, timed, classified. */
  async call<T>(doing: string, fn: (conn: LibvirtConnection) => Promise<T>): Promise<T> {
    const conn = await this.connection();
    return this.#run(conn, doing, () => fn(conn));
  }

  /**
   * Every domain on the host with its state, current memory and vCPUs, and
   * (read from its XML the first time its UUID is seen) its froctal owner.
   * Costs one list call plus two calls per domain plus one per new domain.
   */
  async list(): Promise<Listing> {
    const conn = await this.connection();
    const epoch = this.epoch;
    const domains = await this.#run(conn, "listing domains", () => conn.connectListAllDomains());
    const records = await Promise.all(domains.map((domain) => this.#record(conn, domain)));
    const found = records.filter((r): r is DomainRecord => r !== undefined);
    const seen = new Set(found.map((r) => r.uuid));
    for (const uuid of this.#owners.keys()) if (!seen.has(uuid)) this.#owners.delete(uuid);
    return { epoch, records: found };
  }

  /** The domain with this UUID, or undefined if there is none. */
  async lookup(uuid: string): Promise<Domain | undefined> {
    return this.#unlessGone(
      this.call(`looking up domain ${uuid} on ${this.uri}`, (c) => c.domainLookupByUUIDString(uuid)),
    );
  }

  /** A domain's state, or undefined if it is gone. */
  async info(domain: Domain, name: string): Promise<DomainInfo | undefined> {
    return this.#unlessGone(this.call(`reading the state of ${name} on ${this.uri}`, (c) => c.domainGetInfo(domain)));
  }

  /** The owner read back from a domain's own XML (for a create that found the domain already there). */
  async ownerOf(domain: Domain, name: string): Promise<Owner | undefined> {
    const xml = await this.call(`reading the XML of ${name} on ${this.uri}`, (c) => c.domainGetXMLDesc(domain));
    return ownerFromXml(xml);
  }

  /** Records the owner of a domain this driver just created, so the next listing need not read its XML. */
  remember(uuid: string, owner: Owner): void {
    this.#owners.set(uuid, owner);
  }

  /**
   * Stops using the host: the connection is closed once its calls have
   * returned, or left open (never closed under a running call, which would free
   * it under libvirt's feet) if they have not within one call timeout.
   */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#opening?.catch(() => undefined);
    if (this.#conn !== undefined) this.#retire(this.#conn);
    await Promise.all(this.#retiring);
  }

  async #open(): Promise<LibvirtConnection> {
    const conn = this.#settings.connect(this.uri);
    let opened = false;
    try {
      await this.#run(conn, `connecting to ${this.uri}`, () => conn.connectOpen());
      opened = true;
      const node = await this.#run(conn, `reading node info of ${this.uri}`, () => conn.nodeGetInfo());
      if (this.#closed) throw new FroctalError("FROCTAL_E_CLOSED", `the connection to ${this.uri} is closed`);
      this.memoryKiB = node.memory;
      this.cpus = node.cpus;
      this.#owners.clear(); // domains may have been redefined while we were away
      this.#conn = conn;
      this.epoch += 1;
      this.#backoffMs = 0;
      this.#retryAt = Number.NEGATIVE_INFINITY;
      this.#lastError = undefined;
      return conn;
    } catch (error) {
      if (opened) this.#retire(conn);
      this.#backoffMs = Math.min(MAX_BACKOFF_MS, this.#backoffMs === 0 ? FIRST_BACKOFF_MS : this.#backoffMs * 2);
      this.#retryAt = this.#settings.clock.now() + this.#backoffMs;
      const failure = error instanceof FroctalError ? error : libvirtError(error, `connecting to ${this.uri}`);
      this.#lastError = failure;
      // Whatever the cause, an unopened host is unreachable for now: callers may retry.
      throw failure.code === "FROCTAL_E_CLOSED"
        ? failure
        : new FroctalError("FROCTAL_E_TRANSPORT", failure.sentence, { cause: failure, retryable: true });
    }
  }

  async #record(conn: LibvirtConnection, domain: Domain): Promise<DomainRecord | undefined> {
    // A domain that vanishes between the list and these calls is simply not in this listing.
    const uuid = await this.#unlessGone(
      this.#run(conn, `reading a domain's uuid on ${this.uri}`, () => conn.domainGetUUIDString(domain)),
    );
    if (uuid === undefined) return undefined;
    const info = await this.#unlessGone(
      this.#run(conn, `reading the state of ${uuid} on ${this.uri}`, () => conn.domainGetInfo(domain)),
    );
    if (info === undefined) return undefined;
    let owner = this.#owners.get(uuid);
    if (owner === undefined) {
      const xml = await this.#unlessGone(
        this.#run(conn, `reading the XML of ${uuid} on ${this.uri}`, () => conn.domainGetXMLDesc(domain)),
      );
      if (xml === undefined) return undefined;
      owner = ownerFromXml(xml) ?? null;
      this.#owners.set(uuid, owner);
    }
    return { uuid, state: info.state, memoryKiB: info.memory, vcpus: info.nrVirtCpu, owner: owner ?? undefined };
  }

  #run<T>(conn: LibvirtConnection, doing: string, call: () => Promise<T>): Promise<T> {
    const { gate, clock, callTimeoutMs } = this.#settings;
    const tracked = () => {
      if (this.#retired.has(conn)) {
        return Promise.reject(
          new LibvirtCallError("transport", `${doing} failed: the connection was given up`, undefined),
        );
      }
      const pending = call();
      const set = this.#pending.get(conn) ?? new Set<Promise<unknown>>();
      this.#pending.set(conn, set);
      set.add(pending);
      const forget = () => {
        set.delete(pending);
        if (set.size === 0 && this.#pending.get(conn) === set) this.#pending.delete(conn);
      };
      pending.then(forget, forget);
      return pending;
    };
    const stalled = () =>
      new LibvirtCallError("stalled", `${doing} did not return within ${callTimeoutMs} ms`, undefined);
    return gate.run(tracked, clock, callTimeoutMs, stalled).catch((cause: unknown) => {
      const error = cause instanceof LibvirtCallError ? cause : libvirtError(cause, doing);
      const failure = failureOf(error);
      if ((failure === "transport" || failure === "stalled") && conn === this.#conn) {
        this.#lastError = error;
        this.#conn = undefined;
        this.#retire(conn);
      }
      throw error;
    });
  }

  #retire(conn: LibvirtConnection): void {
    if (this.#retired.has(conn)) return;
    this.#retired.add(conn);
    const retiring = this.#closeWhenIdle(conn).finally(() => this.#retiring.delete(retiring));
    this.#retiring.add(retiring);
  }

  async #closeWhenIdle(conn: LibvirtConnection): Promise<void> {
    const { gate, clock, callTimeoutMs } = this.#settings;
    // Complete: the connection is retired, so no call starts on it after this.
    const pending = [...(this.#pending.get(conn) ?? [])];
    if (pending.length > 0) {
      let timedOut = false;
      let cancel = () => {};
      await Promise.race([
        Promise.allSettled(pending),
        new Promise<void>((resolve) => {
          cancel = clock.setTimeout(() => {
            timedOut = true;
            resolve();
          }, callTimeoutMs);
        }),
      ]);
      cancel();
      if (timedOut) return; // left open rather than freed under a call
    }
    const closing = () => new LibvirtCallError("stalled", `closing ${this.uri} did not return`, undefined);
    await gate.run(() => conn.connectClose(), clock, callTimeoutMs, closing).catch(() => undefined);
  }

  async #unlessGone<T>(call: Promise<T>): Promise<T | undefined> {
    try {
      return await call;
    } catch (error) {
      if (failureOf(error) === "gone") return undefined;
      throw error;
    }
  }
}

/** The name and froctal owner a domain's XML declares; undefined for XML that is not froctal's (or not readable). */
export function ownerFromXml(xml: string): Owner | undefined {
  try {
    const domain = parseXml(xml);
    const ownership = readOwnership(domain);
    const name = child(domain, "name")?.text.trim();
    return ownership === undefined || name === undefined ? undefined : { name, ownership };
  } catch {
    return undefined;
  }
}

/** Whether a libvirt URI names this machine (no host part, or a local transport). */
export function isLocal(uri: string): boolean {
  const match = /^[a-z]+(\+[a-z]+)?:\/\/([^/]*)\//i.exec(uri);
  if (match === null) return false;
  const [, transport, host] = match;
  return (host === "" || host === "localhost") && (transport === undefined || transport === "+unix");
}
