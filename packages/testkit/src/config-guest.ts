/**
 * A guest's side of a two-phase configuration change, as @froctal/agent's
 * ConfigMachine does it, made synchronous (its handlers answer at once) for
 * property tests of the rollout. It keeps a running and a staged
 * configuration, and records what it applied and which generations it was
 * told to abort, so a test checks what the guests did, not what the manager
 * believes they did.
 *
 *   prepare(g, n)  g at or below the running one, or below the staged one: ignored;
 *                  else the staged one is dropped, and g staged      -> PREPARED
 *                  (or, refused, nothing is staged)                 -> NACKED
 *   commit(g, n)   the staged (g, n) becomes the running one        -> COMMITTED
 *                  anything else: stale, ignored
 *   abort(g, n)    the staged (g, n) is dropped                     -> ABORTED
 *                  (a refused (g, n) is acknowledged too; anything else is ignored)
 *
 * A repeat of the last (g, n) command gets the answer it got the first time.
 * Every answer carries the running generation, as the agent's do.
 */
import { type ConfigAck, ConfigAckStatus, type ManagerFrame } from "@froctal/protocol";

const utf8 = new TextDecoder();

export interface GuestConfig {
  readonly generation: number;
  /** The configuration as the manager sent it (JSON text); "" before the first commit. */
  readonly json: string;
}

interface Staged extends GuestConfig {
  readonly nonce: string;
}

export class ConfigGuest {
  running: GuestConfig;
  staged: Staged | undefined;
  /** Every configuration committed, in order. */
  readonly applied: GuestConfig[] = [];
  /** Generations the manager told this guest to abort (whether or not it had staged them). */
  readonly abortsReceived = new Set<number>();
  /** Generations this guest answered PREPARED, and NACKED. */
  readonly preparedGenerations = new Set<number>();
  readonly refusedGenerations = new Set<number>();
  private last: { readonly generation: number; readonly nonce: string; readonly ack: ConfigAck } | undefined;

  constructor(running: GuestConfig = { generation: 0, json: "" }) {
    this.running = running;
  }

  /** Handles one command; returns the answer to send, if any. `refusal` makes a prepare NACK with that reason. */
  handle(frame: ManagerFrame, refusal?: string): ConfigAck | undefined {
    const command = frame.prepare ?? frame.commit ?? frame.abort;
    if (command === undefined || command === null) return undefined;
    const generation = Number(command.generation ?? 0);
    const nonce = String(command.nonce ?? "");
    if (frame.abort) this.abortsReceived.add(generation);
    const last = this.last;
    if (last !== undefined && last.generation === generation && last.nonce === nonce) {
      const s = last.ack.status;
      if (frame.prepare) return s === STATUS.PREPARED || s === STATUS.NACKED ? last.ack : undefined;
      if (frame.commit && (s === STATUS.COMMITTED || s === STATUS.NACKED)) return last.ack;
      if (frame.abort && s === STATUS.ABORTED) return last.ack;
    }
    if (frame.prepare) {
      if (generation <= this.running.generation) return undefined;
      if (this.staged !== undefined) {
        if (generation < this.staged.generation) return undefined;
        this.staged = undefined; // a newer push replaces the staged one, dropped as if aborted
      }
      if (refusal !== undefined) {
        this.refusedGenerations.add(generation);
        return this.reply(generation, nonce, STATUS.NACKED, refusal);
      }
      const json = utf8.decode((frame.prepare.config ?? new Uint8Array()) as Uint8Array);
      this.staged = { generation, nonce, json };
      this.preparedGenerations.add(generation);
      return this.reply(generation, nonce, STATUS.PREPARED);
    }
    if (frame.commit) {
      const staged = this.staged;
      if (staged === undefined || staged.generation !== generation || staged.nonce !== nonce) return undefined;
      this.staged = undefined;
      this.running = { generation, json: staged.json };
      this.applied.push(this.running);
      return this.reply(generation, nonce, STATUS.COMMITTED);
    }
    const staged = this.staged;
    if (staged !== undefined && staged.generation === generation && staged.nonce === nonce) {
      this.staged = undefined;
      return this.reply(generation, nonce, STATUS.ABORTED);
    }
    if (last?.generation === generation && last.nonce === nonce) return this.reply(generation, nonce, STATUS.ABORTED);
    return undefined;
  }

  private reply(generation: number, nonce: string, status: ConfigAckStatus, reason = ""): ConfigAck {
    const ack: ConfigAck = { generation, nonce, status, reason, runningGeneration: this.running.generation };
    this.last = { generation, nonce, ack };
    return ack;
  }
}

const STATUS = {
  PREPARED: ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED,
  NACKED: ConfigAckStatus.CONFIG_ACK_STATUS_NACKED,
  COMMITTED: ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED,
  ABORTED: ConfigAckStatus.CONFIG_ACK_STATUS_ABORTED,
} as const;
