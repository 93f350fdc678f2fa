/**
 * Runs a fleet policy again on a recorded trace (record/record.ts wrote it):
 * a Manager on a VirtualClock set to the recorded times, fed what the guests
 * and the driver said through the same entry points the live run used (the
 * ingest adapter, the driver's watch), ticking exactly where the recorded run
 * ticked. Nothing is performed: the driver settles a start or stop only when
 * the trace says the live one settled; a guest's session takes every frame;
 * the network (when the recorded run had one) answers a step only as the
 * trace says the live one answered.
 * With the recorded fleet the decisions repeat the live run's; with another,
 * they are what it would have decided on the same signals.
 */
import { type Disposer, FroctalError, isErrorCode, VirtualClock } from "@froctal/primitives";
import { type ConfigAck, ConfigAckStatus, type Hello, type ManagerFrame, type TraceInput } from "@froctal/protocol";
import type { JournalEntry } from "../journal.js";
import { Manager } from "../manager.js";
import type { FleetSpec } from "../policy/fleet.js";
import type { Driver, DriverEvent, LaunchSpec } from "../ports/driver.js";
import type { AgentSession } from "../ports/ingest.js";
import type { NetworkDriver } from "../ports/network.js";
import type { StateStore } from "../ports/state.js";
import { NETWORK_ID } from "../rollout/network.js";

/** What a replay needs of the trace's header. */
export interface ReplayStart {
  readonly fleetId: string;
  readonly nonceTag: string;
  readonly startedAt: number;
  readonly startedWall: number;
  readonly reservedGeneration: number;
  /** The highest instance ordinal handed out before the recorded run (0, or absent, when none): its ids continue after it. */
  readonly lastOrdinal?: number;
  readonly adopted: readonly string[];
  /** The recorded run's network driver ("" or absent: it had none). */
  readonly network?: string;
}

export interface ReplayOptions {
  readonly fleet: FleetSpec;
  readonly start: ReplayStart;
  /** The trace's records in order; called twice (tokens are read first, as the live run made them before use). */
  readonly inputs: () => Iterable<TraceInput>;
  readonly onJournal?: (entry: JournalEntry) => void;
}

export interface ReplayReport {
  /** Every journal entry the replayed manager wrote, in order. */
  readonly journal: readonly JournalEntry[];
  readonly records: number;
  readonly ticks: number;
  /** Every start the replayed manager asked of its driver, in order, with the token it gave the guest. */
  readonly launches: readonly { readonly instanceId: string; readonly token: string }[];
}

/** Ticks happen only where the trace says (Manager.tick): the ticker's own timer never fires first. */
const NEVER_MS = 1e15;

export async function replay(o: ReplayOptions): Promise<ReplayReport> {
  const { start } = o;
  if (start.adopted.length > 0) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      `the recorded run began by re-adopting ${start.adopted.join(", ")}; a replay begins with no guest running`,
    );
  }
  const clock = new VirtualClock({ start: start.startedAt, wallStart: start.startedWall });
  const tokens: string[] = [];
  for (const i of o.inputs()) if (i.kind === "token") tokens.push(i.token);
  let made = 0;
  // The same tokens in the same launch order; a changed policy that launches more gets made-up ones.
  const token = () => tokens[made++] ?? `replay-${made}`;
  const driver = new ReplayDriver();
  const network = start.network ? new ReplayNetwork(start.network) : undefined;
  const journal: JournalEntry[] = [];
  const manager = new Manager({
    fleet: o.fleet,
    driver,
    ...(network === undefined ? {} : { network }),
    clock,
    managerUrl: "replay:",
    token,
    nonceTag: start.nonceTag,
    state: traceState(start),
    tickMs: NEVER_MS,
    onJournal: (e) => {
      journal.push(e);
      o.onJournal?.(e);
    },
  });
  const sessions = new Map<string, AgentSession>();
  let records = 0;
  let ticks = 0;
  await manager.restore();
  manager.start();
  // What start() set going (a first generation's steps) is under way before the first record, as it was live.
  await microtasks();
  try {
    for (const input of o.inputs()) {
      records++;
      if (input.at > clock.now()) {
        if (clock.advance(input.at - clock.now()) > 0) await microtasks();
      }
      switch (input.kind) {
        case "tick":
          manager.tick();
          ticks++;
          await microtasks();
          break;
        case "token":
          break;
        case "shutdown":
          // Its promise waits for every guest to go, which the rest of the trace shows.
          void manager.shutdown();
          break;
        case "opened": {
          const session = new ReplaySession(input.hello);
          sessions.set(session.instanceId, session);
          manager.ingest.opened(session, input.hello);
          break;
        }
        case "batch": {
          const session = sessions.get(input.instanceId);
          if (session !== undefined) manager.ingest.batch(session, input.batch);
          break;
        }
        case "configAck": {
          if (input.instanceId === NETWORK_ID) {
            if (network?.answer(input.ack)) await microtasks();
            break;
          }
          const session = sessions.get(input.instanceId);
          if (session !== undefined) manager.ingest.configAck(session, input.ack);
          break;
        }
        case "closed": {
          const session = sessions.get(input.instanceId);
          if (session !== undefined) manager.ingest.closed(session, input.reason);
          sessions.delete(input.instanceId);
          break;
        }
        case "started":
          driver.emit({ kind: "started", instanceId: input.instanceId, detail: input.detail });
          break;
        case "exited": {
          const { instanceId, requested, code, detail } = input;
          driver.emit({ kind: "exited", instanceId, requested, code, detail });
          break;
        }
        case "outcome":
          if (driver.settle(input)) await microtasks();
          break;
      }
    }
    manager.tick();
    await microtasks();
  } finally {
    manager.close();
  }
  return { journal, records, ticks, launches: driver.launches };
}

/** Lets the executor's promise continuations run, so an outcome is queued before the next record. */
async function microtasks(turns = 20): Promise<void> {
  for (let i = 0; i < turns; i++) await Promise.resolve();
}

/** The recorded run's fleet id, reserved generation and last ordinal; nothing else is kept. */
function traceState(start: ReplayStart): StateStore {
  // A replay places nothing on hosts: the secret is never used, so none is made.
  const saved = {
    fleetId: start.fleetId,
    hostSecret: "",
    hosts: [],
    reservedGeneration: start.reservedGeneration,
    lastOrdinal: start.lastOrdinal ?? 0,
    instances: [],
  };
  return {
    load: () => saved,
    reserveGenerations: () => {},
    reserveOrdinals: () => {},
    putInstance: () => {},
    deleteInstance: () => {},
    putHost: () => {},
    flush: async () => {},
    close: async () => {},
  };
}

type Settle = { readonly resolve: () => void; readonly reject: (error: FroctalError) => void };

/** Performs nothing: each start or stop waits for the recorded outcome of the same action. */
class ReplayDriver implements Driver {
  readonly name = "replay";
  private readonly pending = new Map<string, Settle>();
  private readonly listeners = new Set<(event: DriverEvent) => void>();

  readonly launches: { readonly instanceId: string; readonly token: string }[] = [];

  start(spec: LaunchSpec): Promise<void> {
    this.launches.push({ instanceId: spec.instanceId, token: spec.env.FROCTAL_TOKEN ?? "" });
    return this.wait(`start:${spec.instanceId}`);
  }

  stop(instanceId: string): Promise<void> {
    return this.wait(`stop:${instanceId}`);
  }

  async list() {
    return [];
  }

  watch(listener: (event: DriverEvent) => void): Disposer {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {}

  emit(event: DriverEvent): void {
    for (const l of this.listeners) l(event);
  }

  /** Settles the call the outcome answers; false when the replayed manager made no such call (a drain, a changed policy). */
  settle(o: Extract<TraceInput, { kind: "outcome" }>): boolean {
    const key = `${o.action}:${o.instanceId}`;
    const p = this.pending.get(key);
    if (p === undefined) return false;
    this.pending.delete(key);
    if (o.ok) p.resolve();
    else {
      const code = o.error !== undefined && isErrorCode(o.error.code) ? o.error.code : "FROCTAL_E_INTERNAL";
      // Not retryable: the recorded outcome was already the last attempt's.
      p.reject(new FroctalError(code, o.error?.message ?? "failed", { retryable: false }));
    }
    return true;
  }

  private wait(key: string): Promise<void> {
    return new Promise<void>((resolve, reject) => this.pending.set(key, { resolve, reject }));
  }
}

/** A guest's session as the replay sees it: it takes every frame (what the guest did with them is in the trace). */
class ReplaySession implements AgentSession {
  readonly instanceId: string;
  readonly sessionId: string;
  readonly streamId: string;

  constructor(hello: Hello) {
    this.instanceId = hello.instanceId;
    this.streamId = hello.streamId;
    this.sessionId = `replay-${hello.instanceId}`;
  }

  send(_frame: ManagerFrame): boolean {
    return true;
  }

  ack(): void {}

  close(): void {}
}

/** Programs nothing: each prepare or commit waits for the answer the trace recorded for it. */
class ReplayNetwork implements NetworkDriver {
  private readonly pending = new Map<string, { resolve(): void; reject(error: Error): void }>();

  constructor(readonly description: string) {}

  prepare(generation: number): Promise<void> {
    return this.wait(`prepare:${generation}`);
  }

  commit(generation: number): Promise<void> {
    return this.wait(`commit:${generation}`);
  }

  abort(generation: number): void {
    this.pending.delete(`prepare:${generation}`);
  }

  /** Settles the step the recorded answer is for; false when none waits (a replayed policy that asked otherwise). */
  answer(ack: ConfigAck): boolean {
    // A generation's commit is asked only once its prepare was answered: what waits says which this answers.
    const commit = `commit:${ack.generation}`;
    const key = this.pending.has(commit) ? commit : `prepare:${ack.generation}`;
    const waiting = this.pending.get(key);
    if (waiting === undefined) return false;
    this.pending.delete(key);
    // The recorded reason as it was: the core words the answer from the error's message.
    if (ack.status === ConfigAckStatus.CONFIG_ACK_STATUS_NACKED) waiting.reject(new Error(ack.reason));
    else waiting.resolve();
    return true;
  }

  private wait(key: string): Promise<void> {
    return new Promise((resolve, reject) => this.pending.set(key, { resolve, reject }));
  }
}
