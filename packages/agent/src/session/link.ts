/**
 * One agent's connection to its manager, over and over: open a transport,
 * say hello, wait for ManagerHello or Refuse, pass frames up, and when the
 * connection ends, wait (backoff with full jitter, at least what a retryable
 * Refuse asked for) and start again. A non-retryable Refuse, or too many
 * failures in a row, ends the loop for good.
 *
 * Given several addresses (every manager of a fleet with standbys), the link
 * follows the leader by trying the next address: a standby opens no port and
 * a deposed leader stops serving, so whenever a connection ends or cannot be
 * made it moves on to the next, round robin, and stays on one that answers.
 * The backoff applies once per round (one try of every address): a list of
 * dead addresses costs one burst of attempts per backoff period, and a
 * single address behaves exactly as it always has.
 *
 *   connecting -> handshake -> open -> (connection ends) -> waiting -> connecting ...
 *        \------------\----------\---> failed | closed
 *
 * Anything wrong that the manager sends (bytes that do not decode, a frame out
 * of turn) is reported and ends this connection, never the process.
 */

import type { Clock, Disposer } from "@froctal/primitives";
import {
  type AgentFrame,
  type CheckedManagerFrame,
  decodeManagerFrame,
  encodeAgentFrame,
  FroctalError,
  isErrorCode,
  type Limits,
  type ManagerHello,
  MIN_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  type Refuse,
} from "@froctal/protocol";
import { type BackoffPolicy, backoffDelay } from "../core/backoff.js";
import { describeTargets, type Target } from "../core/target.js";
import type { Transport, TransportFactory } from "../core/transport.js";

export type LinkState = "connecting" | "handshake" | "open" | "waiting" | "failed" | "closed";

export interface LinkHooks {
  /** The hello for a new connection (running generation may have moved since the last). */
  hello(): NonNullable<AgentFrame["hello"]>;
  /** The manager accepted the hello. */
  opened(hello: ManagerHello): void;
  /** A frame after the hello (never hello or refuse). */
  frame(frame: CheckedManagerFrame): void;
  /** A connection ended; `wasOpen` when its hello had been accepted. */
  ended(error: FroctalError | undefined, wasOpen: boolean): void;
  /** Something the manager did wrong, or a refusal. */
  error(error: FroctalError): void;
  /** The loop stopped for good; no more connections. */
  failed(error: FroctalError): void;
  /** Bytes written, for stats. */
  wrote(bytes: number): void;
}

export interface LinkOptions {
  /** Where the manager may be, tried in turn; at least one. */
  readonly targets: readonly Target[];
  /** The agent's own limits: frames it reads are checked against them. */
  readonly limits: Limits;
  readonly helloTimeoutMs: number;
  /** Backoff between rounds of attempts; maxAttempts failed rounds in a row end the loop. */
  readonly reconnect: BackoffPolicy & { readonly maxAttempts: number };
  readonly clock: Clock;
  /** Random source in [0, 1) for the jitter. */
  readonly random: () => number;
}

export class Link {
  private current: Transport | undefined;
  private linkState: LinkState = "waiting";
  /** Failed rounds since the last accepted hello: the backoff's exponent. */
  private attempt = 0;
  /** The address dialled last, an index into targets. */
  private index = 0;
  /** Addresses dialled since the last accepted hello or the last backoff: a round ends at targets.length. */
  private tried = 0;
  private timer: Disposer | undefined;

  constructor(
    private readonly options: LinkOptions,
    private readonly openTransport: TransportFactory,
    private readonly hooks: LinkHooks,
  ) {}

  get state(): LinkState {
    return this.linkState;
  }

  get bufferedAmount(): number {
    return this.current?.bufferedAmount ?? 0;
  }

  start(): void {
    if (this.linkState === "waiting") this.dial();
  }

  /** Writes a frame on the open connection; false when there is none. */
  send(frame: AgentFrame): boolean {
    if (this.linkState !== "open" || !this.current) return false;
    return this.write(this.current, encodeAgentFrame(frame));
  }

  /** Writes an already encoded frame on the open connection; false when there is none. */
  sendBytes(bytes: Uint8Array): boolean {
    if (this.linkState !== "open" || !this.current) return false;
    return this.write(this.current, bytes);
  }

  /** Ends the loop and the connection (what is queued is still written). */
  close(): void {
    if (this.linkState === "closed" || this.linkState === "failed") return;
    this.linkState = "closed";
    this.stop();
  }

  /** Drops the current connection (as if it had failed) and reconnects. */
  drop(error: FroctalError, retryAfterMs = 0): void {
    const wasOpen = this.linkState === "open";
    if (!this.current) return;
    this.stop();
    this.hooks.ended(error, wasOpen);
    this.retry(retryAfterMs);
  }

  private dial(): void {
    this.linkState = "connecting";
    const { targets, limits, helloTimeoutMs } = this.options;
    const target = targets[this.index] as Target;
    this.tried++;
    const transport: Transport = this.openTransport(
      target,
      {
        open: () => {
          if (this.current !== transport) return;
          this.linkState = "handshake";
          this.arm(helloTimeoutMs, () =>
            this.drop(
              new FroctalError(
                "FROCTAL_E_HELLO_TIMEOUT",
                `the manager did not answer the hello within ${helloTimeoutMs} ms`,
              ),
            ),
          );
          this.write(transport, encodeAgentFrame({ hello: this.hooks.hello() }));
        },
        frame: (bytes) => {
          if (this.current === transport) this.receive(bytes, limits);
        },
        close: (error) => {
          if (this.current !== transport) return;
          const wasOpen = this.linkState === "open";
          this.current = undefined;
          this.cancelTimer();
          // A connection that merely ended is no error; one the manager broke (bad framing) is.
          if (error && error.code !== "FROCTAL_E_TRANSPORT") this.hooks.error(error);
          this.hooks.ended(error, wasOpen);
          this.retry();
        },
      },
      { maxFrameBytes: limits.maxFrameBytes, openTimeoutMs: helloTimeoutMs },
    );
    this.current = transport;
  }

  private receive(bytes: Uint8Array, limits: Limits): void {
    let frame: CheckedManagerFrame;
    try {
      frame = decodeManagerFrame(bytes, limits);
    } catch (err) {
      const error = err instanceof FroctalError ? err : new FroctalError("FROCTAL_E_FRAME_MALFORMED", String(err));
      this.hooks.error(error);
      this.drop(error);
      return;
    }
    if (frame.frame === "refuse") this.refused(frame.refuse);
    else if (this.linkState === "handshake") this.handshake(frame);
    else if (frame.frame === "hello") this.unexpected("a second hello");
    else this.hooks.frame(frame);
  }

  private handshake(frame: CheckedManagerFrame): void {
    if (frame.frame !== "hello") {
      this.unexpected(`a ${frame.frame} frame before its hello`);
      return;
    }
    const { version } = frame.hello;
    if (version < MIN_PROTOCOL_VERSION || version > PROTOCOL_VERSION) {
      const sentence = `the manager chose protocol version ${version}; this agent speaks ${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`;
      this.fail(new FroctalError("FROCTAL_E_VERSION", sentence));
      return;
    }
    this.cancelTimer();
    this.linkState = "open";
    this.attempt = 0;
    this.tried = 0;
    this.hooks.opened(frame.hello);
  }

  private refused(refuse: Refuse): void {
    const code = isErrorCode(refuse.code) ? refuse.code : "FROCTAL_E_INTERNAL";
    const reason = code === refuse.code ? refuse.reason : `${refuse.code}: ${refuse.reason}`;
    const error = new FroctalError(code, `the manager refused: ${reason}`, { retryable: refuse.retryable });
    if (!refuse.retryable) {
      this.fail(error);
      return;
    }
    this.hooks.error(error);
    this.drop(error, refuse.retryAfterMs);
  }

  private unexpected(what: string): void {
    const error = new FroctalError("FROCTAL_E_FRAME_UNEXPECTED", `the manager sent ${what}`);
    this.hooks.error(error);
    this.drop(error);
  }

  private fail(error: FroctalError): void {
    const wasOpen = this.linkState === "open";
    const hadConnection = this.current !== undefined;
    this.linkState = "failed";
    this.stop();
    if (hadConnection) this.hooks.ended(error, wasOpen);
    this.hooks.failed(error);
  }

  private retry(retryAfterMs = 0): void {
    if (this.linkState === "closed" || this.linkState === "failed") return;
    const { reconnect, random, targets } = this.options;
    this.index = (this.index + 1) % targets.length;
    let delay = retryAfterMs;
    // A new round: after a session ended (tried is 0), or once every address failed in this one.
    if (this.tried % targets.length === 0) {
      if (this.attempt >= reconnect.maxAttempts) {
        const where = describeTargets(targets);
        this.fail(
          new FroctalError("FROCTAL_E_TRANSPORT", `gave up on ${where} after ${this.attempt} reconnects failed`),
        );
        return;
      }
      delay = backoffDelay(this.attempt++, reconnect, random, retryAfterMs);
      this.tried = 0;
    }
    this.linkState = "waiting";
    this.arm(delay, () => this.dial());
  }

  private write(transport: Transport, bytes: Uint8Array): boolean {
    try {
      transport.send(bytes);
    } catch (err) {
      const error = new FroctalError("FROCTAL_E_TRANSPORT", `write failed: ${(err as Error).message}`, { cause: err });
      this.drop(error);
      return false;
    }
    this.hooks.wrote(bytes.length);
    return true;
  }

  private stop(): void {
    this.cancelTimer();
    const transport = this.current;
    this.current = undefined;
    transport?.close();
  }

  private arm(ms: number, fn: () => void): void {
    this.cancelTimer();
    this.timer = this.options.clock.setTimeout(() => {
      this.timer = undefined;
      fn();
    }, ms);
  }

  private cancelTimer(): void {
    this.timer?.();
    this.timer = undefined;
  }
}
