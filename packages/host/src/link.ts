/**
 * The host's connection to the manager: dial, hello, welcome, then frames
 * both ways; dial again after a drop, waiting longer each time up to a
 * bound, at once again after a welcome. A refusal that retrying cannot fix
 * (a wrong credential, no shared version) ends the link for good.
 */
import type { FleetIdentity } from "@froctal/manager";
import { type Clock, type Disposer, FroctalError, isErrorCode } from "@froctal/primitives";
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
}

export interface LinkHandlers {
  welcome(fleet: FleetIdentity): void;
  action(action: HostAction): void;
  list(requestId: number, fleet: FleetIdentity): void;
}

export interface LinkOptions {
  readonly url: string;
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

export class Link {
  readonly finished: Promise<FroctalError | undefined>;
  readonly #o: LinkOptions;
  #socket: WebSocket | undefined;
  #welcomed = false;
  #retryMs = FIRST_RETRY_MS;
  #retry: Disposer | undefined;
  #closed = false;
  #finish!: (error: FroctalError | undefined) => void;

  constructor(options: LinkOptions) {
    this.#o = options;
    this.finished = new Promise((resolve) => {
      this.#finish = resolve;
    });
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
    const { url, hostId, credential, info, limits } = this.#o;
    const socket = new WebSocket(url, { maxPayload: limits.maxFrameBytes, perMessageDeflate: false });
    this.#socket = socket;
    this.#welcomed = false;
    socket.binaryType = "nodebuffer";
    socket.on("open", () => {
      const { cpus, memoryBytes, features, drivers } = info;
      const hello = {
        minVersion: MIN_PROTOCOL_VERSION,
        maxVersion: PROTOCOL_VERSION,
        hostId,
        credential,
        capacity: { cpus, memoryBytes },
        features: [...features],
        drivers: [...drivers],
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
      if (this.#welcomed) this.#o.log("warn", `lost the manager (${code} ${reason.toString()}); dialling again`);
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
        this.#retryMs = FIRST_RETRY_MS;
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
    const wait = this.#retryMs;
    this.#retryMs = Math.min(this.#o.maxRetryMs, this.#retryMs * 2);
    this.#retry = this.#o.clock.setTimeout(() => {
      this.#retry = undefined;
      if (!this.#closed) this.#dial();
    }, wait);
  }

  #stop(error: FroctalError | undefined): void {
    this.#closed = true;
    this.#retry?.();
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
