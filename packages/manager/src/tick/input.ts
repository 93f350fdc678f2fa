/**
 * What enters the store, one tick at a time: checked frames from the ingest
 * adapter, driver facts, executor outcomes and timer expiries. Each is applied
 * inside the tick's single action, in arrival order. Only "batch" carries guest
 * signals; the union is named for the tick, not for them.
 */
import type { Batch, ConfigAck, Hello } from "@froctal/protocol";
import type { Outcome } from "../execute/executor.js";
import type { DriverEvent } from "../ports/driver.js";
import type { AgentSession } from "../ports/ingest.js";
import type { Action } from "../reconcile/action.js";
import type { Instance } from "../store/instance.js";
import type { SlotTable } from "../store/store.js";

export type TickInput =
  | {
      readonly kind: "batch";
      readonly instance: Instance;
      readonly batch: Batch;
      /** Events before this index were already applied (re-sent after a reconnect). */
      readonly skip: number;
      readonly table: SlotTable;
    }
  | { readonly kind: "opened"; readonly instance: Instance; readonly session: AgentSession; readonly hello: Hello }
  | { readonly kind: "closed"; readonly instance: Instance; readonly session: AgentSession; readonly reason: string }
  | { readonly kind: "configAck"; readonly instance: Instance; readonly ack: ConfigAck }
  /** The network driver's answer to a step of a generation (execute/perform.ts: networkStep). */
  | { readonly kind: "networkAck"; readonly ack: ConfigAck }
  | { readonly kind: "driver"; readonly event: DriverEvent }
  | { readonly kind: "outcome"; readonly outcome: Outcome<Action> }
  | { readonly kind: "expired"; readonly instance: Instance; readonly what: "drain" | "start" }
  /** A timer the core set, run inside the tick so its effects are part of one consistent step. */
  | { readonly kind: "timer"; readonly run: () => void }
  | { readonly kind: "wake" };
