/**
 * The host's connection to the manager: dial, hello, welcome, then frames
 * both ways; dial again after a drop, waiting longer each time up to a
 * bound, at once again after a welcome. A refusal that retrying cannot fix
 * (a wrong credential, no shared version) ends the link for good.
 *
 * Given every manager's address (a fleet with standbys), it follows the
 * leader by trying the next address: a standby opens no port and a deposed
 * leader stops serving, so a connection that cannot be made, is not welcomed
 * in time, or ends moves the link on to the next address, round robin; it
 * stays on one that welcomes it. The wait applies once per round (one try of
 * every address), so dead addresses do not spin; one address is a round of
 * one, as before. The welcome timeout is for one address too: a manager
 * whose machine is gone would otherwise hold the host for the OS's minutes.
 */
import type { FleetIdentity } from "@froctal/manager";
import { type Clock, type Disposer, FroctalError, isErrorCode, parseList } from "@froctal/primitives";
import {
  type CheckedHostControl,
  decodeHostControl,
  encodeHostFrame,
  type HostAction,
  type HostFrame,
  type Limits,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
} from "@froctal/protocol";
import WebSocket, { type RawData } from "ws";

export interface HostInfo {
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly features: readonly string[];
  readonly drivers: readonly string[];
  /** The network its guests are on, "" for none. */
  readonly network?: string;
}

export interface LinkHandlers {
  welcome(fleet: FleetIdentity): void;
  action(action: HostAction): void;
  list(requestId: number, fleet: FleetIdentity): void;
}

export interface LinkOptions {
  /** The managers' host endpoints, tried in turn; at least one. */
  readonly urls: readonly string[];
  /** How long a connection may take to be welcomed before the next address is tried, ms. */
  readonly welcomeTimeoutMs: number;
  readonly hostId: string;
  readonly credential: string;
  readonly info: HostInfo;
  readonly clock: Clock;
  readonly limits: Limits;
  readonly maxRetryMs: number;
  readonly log: (level: "info" | "warn" | "error", message: string, fields?: Readonly<Record<string, unknown>>) => void;
  readonly handlers: LinkHandlers;
}

const FIRST_RETRY_MS = 50;

/**
 * The manager's host endpoint, or every manager's (a comma-separated string or an array,
 * the same forms as the agent's FROCTAL_MANAGER_URL): ws:// or wss:// URLs, each once.
 * `source` names where they came from, for the error.
 */
export function parseManagerUrls(value: string | readonly string[], source: string): readonly string[] {
  const bad = (why: string) =>
    new FroctalError(
      "FROCTAL_E_CONFIG",
      `${source} is not a manager address or a list of them (${why}): ${JSON.stringify(value)}; use ws://host:port/host[,ws://host2:port/host...]`,
    );
  return parseList(value, {
    parse: (entry, which) => {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw bad(`${which} is not a URL`);
      }
      if (url.protocol !== "ws:" && url.protocol !== "wss:") throw bad(`${which} is not ws:// or wss://`);
      return url.href;
    },
    key: (url) => url,
    bad,
  });
}

export class Link {
  readonly finished: Promise<FroctalError | undefined>;
  readonly #o: LinkOptions;
  #socket: WebSocket | undefined;
  #welcomed = false;
  #retryMs = FIRST_RETRY_MS;
  /** What a retryable refusal asked this host to wait, for the next dial only. */
  #refusedForMs = 0;
  /** The address dialled last, an index into urls. */
  #index = 0;
  /** Addresses dialled since the last welcome or the last wait: a round ends at urls.length. */
  #tried = 0;
  #retry: Disposer | undefined;
  #welcomeTimer: Disposer | undefined;
  #closed = false;
  #finish!: (error: FroctalError | undefined) => void;

  constructor(options: LinkOptions) {
    this.#o = options;
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  /** The manager address this link is on: the one that welcomed it, or the one it dials now. */
  get url(): string {
    return this.#o.urls[this.#index] as string;
  }

  start(): void {
    if (this.#closed || this.#socket !== undefined) return;
    this.#dial();
  }

  /** Sends a frame if the manager has welcomed this connection; otherwise drops it (the manager asks again after a reconnect). */
  send(frame: HostFrame): void {
    const socket = this.#socket;
    if (!this.#welcomed || socket === undefined || socket.readyState !== WebSocket.OPEN) return;
    socket.send(encodeHostFrame(frame));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#stop(undefined);
  }

  #dial(): void {
    const { urls, hostId, credential, info, limits, welcomeTimeoutMs } = this.#o;
    const url = urls[this.#index] as string;
    this.#tried++;
    const socket = new WebSocket(url, { maxPayload: limits.maxFrameBytes, perMessageDeflate: false });
    this.#socket = socket;
    this.#welcomed = false;
    this.#welcomeTimer = this.#o.clock.setTimeout(() => {
      this.#welcomeTimer = undefined;
      if (this.#socket !== socket || this.#welcomed) return;
      this.#o.log("warn", `the manager at ${url} did not welcome this host within ${welcomeTimeoutMs} ms`);
      socket.terminate();
    }, welcomeTimeoutMs);
    socket.binaryType = "nodebuffer";
    socket.on("open", () => {
      const { cpus, memoryBytes, features, drivers, network = "" } = info;
      const hello = {
        minVersion: MIN_PROTOCOL_VERSION,
        maxVersion: PROTOCOL_VERSION,
        hostId,
        credential,
        capacity: { cpus, memoryBytes },
        features: [...features],
        drivers: [...drivers],
        network,
      };
      socket.send(encodeHostFrame({ hello }));
    });
    socket.on("message", (data: RawData) => this.#receive(socket, data));
    socket.on("error", (error) => {
      if (!this.#welcomed) this.#o.log("warn", `cannot reach the manager at ${url}: ${error.message}`);
    });
    socket.on("close", (code, reason) => {
      if (this.#socket !== socket) return;
      this.#socket = undefined;
      this.#cancelWelcomeTimer();
      if (this.#welcomed)
        this.#o.log("warn", `lost the manager at ${url} (${code} ${reason.toString()}); dialling again`);
      this.#welcomed = false;
      this.#redial();
    });
  }

  #receive(socket: WebSocket, data: RawData): void {
    let frame: CheckedHostControl;
    try {
      frame = decodeHostControl(toBytes(data), this.#o.limits);
    } catch (error) {
      this.#o.log("error", `the manager sent a frame this host refuses: ${(error as Error).message}`);
      socket.close(1008, (error as FroctalError).code ?? "FROCTAL_E_FRAME_INVALID");
      return;
    }
    const { handlers } = this.#o;
    switch (frame.frame) {
      case "welcome": {
        this.#welcomed = true;
        this.#cancelWelcomeTimer();
        this.#retryMs = FIRST_RETRY_MS;
        this.#tried = 0;
        const { fleet, fleetId, sessionId } = frame.welcome;
        this.#o.log("info", `joined fleet ${fleet} (id ${fleetId}) as host ${this.#o.hostId}`, { sessionId });
        handlers.welcome({ name: fleet, id: fleetId });
        return;
      }
      case "refuse": {
        const { code, reason, retryable, retryAfterMs } = frame.refuse;
        const error = new FroctalError(isErrorCode(code) ? code : "FROCTAL_E_INTERNAL", reason, { retryable });
        this.#o.log(retryable ? "warn" : "error", `the manager refused this host: ${error.message}`);
        if (!retryable) {
          this.#stop(error);
          return;
        }
        this.#retryMs = Math.max(this.#retryMs, retryAfterMs);
        this.#refusedForMs = retryAfterMs;
        return;
      }
      case "action":
        if (this.#welcomed) handlers.action(frame.action);
        return;
      case "list":
        if (this.#welcomed) handlers.list(frame.list.requestId, { name: frame.list.fleet, id: frame.list.fleetId });
        return;
    }
  }

  #redial(): void {
    if (this.#closed) return;
    const { urls } = this.#o;
    this.#index = (this.#index + 1) % urls.length;
    let wait = this.#refusedForMs;
    this.#refusedForMs = 0;
    // A new round: after a welcomed connection ended (tried is 0), or once every address failed in this one.
    if (this.#tried % urls.length === 0) {
      wait = this.#retryMs;
      this.#retryMs = Math.min(this.#o.maxRetryMs, this.#retryMs * 2);
      this.#tried = 0;
    }
    this.#retry = this.#o.clock.setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) this.#dial();
    }, wait);
  }

  #cancelWelcomeTimer(): void {
    this.#welcomeTimer?.();
    this.#welcomeTimer = undefined;
  }

  #stop(error: FroctalError | undefined): void {
    this.#closed = true;
    this.#retry?.();
    this.#cancelWelcomeTimer();
    const socket = this.#socket;
    this.#socket = undefined;
    socket?.close(1001, "FROCTAL_E_CLOSED");
    this.#finish(error);
  }
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  return data instanceof ArrayBuffer ? new Uint8Array(data) : data;
}
