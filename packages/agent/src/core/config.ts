/**
 * The guest's side of a two-phase configuration change. One command is
 * handled at a time, in arrival order, so an async prepare finishes before
 * the commit that follows it is looked at.
 *
 *   prepare(g, n)  validate; remember (g, n) as prepared      -> PREPARED | NACKED
 *   commit(g, n)   the prepared (g, n) becomes the running one -> COMMITTED
 *                  (a commit handler that throws: the running generation is kept,
 *                   abort(g) lets the guest drop partial work  -> NACKED)
 *   abort(g, n)    drop the prepared (g, n)                    -> ABORTED
 *
 * A command for a generation at or below the running one, or whose (g, n)
 * matches nothing prepared, is stale and ignored; a duplicate of the last
 * command gets the same answer again. Only a successful commit moves
 * runningGeneration, which the next hello reports.
 *
 * Pure: no socket, no timer. The agent feeds it the frames its session
 * decodes; another package may drive the same machine directly (it is
 * exported as @froctal/agent/core): feed it commands (configCommandOf turns a
 * decoded ManagerFrame into one), await handle(), and read the answers given
 * to `send`.
 */
import {
  type CheckedManagerFrame,
  type ConfigAck,
  ConfigAckStatus,
  FroctalError,
  toFroctalError,
} from "@froctal/protocol";

export interface ConfigHandler<C = unknown> {
  /** Validate `config`; throw, or return a reason, to refuse it. Must not apply anything. */
  prepare?(config: C, generation: number): undefined | string | Promise<undefined | string> | void | Promise<void>;
  /** Apply `config` atomically (build, then swap). */
  commit(config: C, generation: number): void | Promise<void>;
  /** Drop what prepare (or a failed commit) left behind for `generation`. */
  abort?(generation: number): void | Promise<void>;
}

/** The machine's answer to one command: the ConfigAck frame the manager receives. */
export type Ack = ConfigAck;

export type ConfigCommand =
  | {
      readonly kind: "prepare";
      readonly generation: number;
      readonly nonce: string;
      readonly config: Uint8Array;
      readonly mediaType: string;
    }
  | { readonly kind: "commit"; readonly generation: number; readonly nonce: string }
  | { readonly kind: "abort"; readonly generation: number; readonly nonce: string };

/** The manager frames that carry a configuration command. */
export type ConfigFrame = Extract<CheckedManagerFrame, { readonly frame: "prepare" | "commit" | "abort" }>;

/** The command a decoded frame carries; undefined for a frame that carries none. */
export function configCommandOf(frame: ConfigFrame): ConfigCommand;
export function configCommandOf(frame: CheckedManagerFrame): ConfigCommand | undefined;
export function configCommandOf(frame: CheckedManagerFrame): ConfigCommand | undefined {
  // Decoded messages keep unset fields' defaults on their prototype: read fields, never spread.
  switch (frame.frame) {
    case "prepare": {
      const { generation, nonce, config, mediaType } = frame.prepare;
      return { kind: "prepare", generation, nonce, config, mediaType };
    }
    case "commit":
      return { kind: "commit", generation: frame.commit.generation, nonce: frame.commit.nonce };
    case "abort":
      return { kind: "abort", generation: frame.abort.generation, nonce: frame.abort.nonce };
    case "hello":
    case "refuse":
    case "ack":
    case "drain":
    case "shutdown":
    case "ping":
      return undefined;
    default:
      return frame satisfies never;
  }
}

export interface ConfigMachineOptions {
  /** The generation the guest already runs (0: none). */
  readonly runningGeneration: number;
  /** Delivers an answer to the manager; a throw is reported, never raised. */
  readonly send: (ack: Ack) => void;
  /** Hears what went wrong away from any call: a commit or abort handler that failed. */
  readonly report: (error: FroctalError) => void;
  /** Longest reason an answer carries (the protocol's text limit); default 4096. */
  readonly maxReasonLength?: number;
  /** The guest's handler; setHandler replaces it. */
  readonly handler?: ConfigHandler;
}

const STATUS = {
  PREPARED: ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED,
  NACKED: ConfigAckStatus.CONFIG_ACK_STATUS_NACKED,
  COMMITTED: ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED,
  ABORTED: ConfigAckStatus.CONFIG_ACK_STATUS_ABORTED,
} as const;

interface Prepared {
  readonly generation: number;
  readonly nonce: string;
  readonly config: unknown;
}

export class ConfigMachine {
  private handler: ConfigHandler | undefined;
  private running: number;
  private prepared: Prepared | undefined;
  /** The last answer per (generation, nonce), for duplicates. */
  private last: { readonly generation: number; readonly nonce: string; readonly ack: Ack } | undefined;
  private queue: Promise<void> = Promise.resolve();
  private readonly send: (ack: Ack) => void;
  private readonly report: (error: FroctalError) => void;
  private readonly maxReasonLength: number;

  constructor(options: ConfigMachineOptions) {
    this.running = options.runningGeneration;
    this.send = options.send;
    this.report = options.report;
    this.maxReasonLength = options.maxReasonLength ?? 4096;
    this.handler = options.handler;
  }

  get runningGeneration(): number {
    return this.running;
  }

  setHandler(handler: ConfigHandler | undefined): void {
    this.handler = handler;
  }

  get currentHandler(): ConfigHandler | undefined {
    return this.handler;
  }

  /** Queues a command; the promise settles once it (and all before it) is handled. Never rejects. */
  handle(command: ConfigCommand): Promise<void> {
    this.queue = this.queue.then(() => this.step(command)).catch((err) => this.report(toFroctalError(err)));
    return this.queue;
  }

  private async step(c: ConfigCommand): Promise<void> {
    const last = this.last;
    if (last && last.generation === c.generation && last.nonce === c.nonce) {
      const s = last.ack.status;
      const { PREPARED, NACKED, COMMITTED, ABORTED } = STATUS;
      // A re-delivered command gets the answer it got the first time.
      if (c.kind === "prepare") return s === PREPARED || s === NACKED ? this.answer(last.ack) : undefined;
      if (c.kind === "commit" && (s === COMMITTED || s === NACKED)) return this.answer(last.ack);
      if (c.kind === "abort" && s === ABORTED) return this.answer(last.ack);
    }
    switch (c.kind) {
      case "prepare":
        return this.prepare(c);
      case "commit":
        return this.commit(c);
      case "abort":
        return this.abort(c);
    }
  }

  private async prepare(c: Extract<ConfigCommand, { kind: "prepare" }>): Promise<void> {
    if (c.generation <= this.running) return;
    if (this.prepared) {
      if (c.generation < this.prepared.generation) return;
      // A newer push replaces the prepared one, which is dropped as if aborted.
      const dropped = this.prepared;
      this.prepared = undefined;
      await this.callAbort(dropped.generation);
    }
    const handler = this.handler;
    if (!handler) return this.reply(c, STATUS.NACKED, "the guest registered no configuration handler (agent.onConfig)");
    let config: unknown;
    try {
      config = decodeConfig(c.config, c.mediaType);
    } catch (err) {
      return this.reply(c, STATUS.NACKED, errorSentence(err));
    }
    let refusal: string | undefined;
    try {
      const result = await handler.prepare?.(config, c.generation);
      if (typeof result === "string" && result.length > 0) refusal = result;
    } catch (err) {
      refusal = errorSentence(err) || "prepare failed";
    }
    if (refusal !== undefined) return this.reply(c, STATUS.NACKED, refusal);
    this.prepared = { generation: c.generation, nonce: c.nonce, config };
    this.reply(c, STATUS.PREPARED);
  }

  private async commit(c: Extract<ConfigCommand, { kind: "commit" }>): Promise<void> {
    const p = this.prepared;
    if (!p || p.generation !== c.generation || p.nonce !== c.nonce) return;
    this.prepared = undefined;
    const handler = this.handler;
    try {
      if (!handler) throw new Error("the configuration handler was removed before commit");
      await handler.commit(p.config, p.generation);
    } catch (err) {
      const sentence = `commit of generation ${p.generation} failed, generation ${this.running} still runs: ${errorSentence(err)}`;
      this.report(new FroctalError("FROCTAL_E_CONFIG_NACK", sentence, { cause: err }));
      await this.callAbort(p.generation);
      return this.reply(c, STATUS.NACKED, sentence);
    }
    this.running = p.generation;
    this.reply(c, STATUS.COMMITTED);
  }

  private async abort(c: Extract<ConfigCommand, { kind: "abort" }>): Promise<void> {
    const p = this.prepared;
    if (p && p.generation === c.generation && p.nonce === c.nonce) {
      this.prepared = undefined;
      await this.callAbort(p.generation);
      return this.reply(c, STATUS.ABORTED);
    }
    // Aborting a push this guest refused is honoured: there is nothing to drop.
    if (this.last?.generation === c.generation && this.last.nonce === c.nonce) {
      this.reply(c, STATUS.ABORTED);
    }
  }

  private async callAbort(generation: number): Promise<void> {
    try {
      await this.handler?.abort?.(generation);
    } catch (err) {
      this.report(
        new FroctalError("FROCTAL_E_INTERNAL", `abort of generation ${generation} failed: ${errorSentence(err)}`, {
          cause: err,
        }),
      );
    }
  }

  private reply(c: ConfigCommand, status: ConfigAckStatus, reason = ""): void {
    const ack: Ack = {
      generation: c.generation,
      nonce: c.nonce,
      status,
      reason: reason.slice(0, this.maxReasonLength),
      runningGeneration: this.running,
    };
    this.last = { generation: c.generation, nonce: c.nonce, ack };
    this.answer(ack);
  }

  private answer(ack: Ack): void {
    try {
      this.send(ack);
    } catch (err) {
      this.report(toFroctalError(err));
    }
  }
}

/** JSON when the media type is empty or application/json; the raw bytes otherwise. */
export function decodeConfig(bytes: Uint8Array, mediaType: string): unknown {
  const type = mediaType.split(";")[0]!.trim().toLowerCase();
  if (type !== "" && type !== "application/json") return bytes;
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new Error("the configuration is not valid UTF-8");
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new Error(`the configuration is not valid JSON (${errorSentence(err)})`);
  }
}

function errorSentence(err: unknown): string {
  if (err instanceof FroctalError) return err.sentence;
  if (err instanceof Error) return err.message;
  return String(err);
}
