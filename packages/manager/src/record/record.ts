/**
 * What `froctal up --record` keeps of a tick input: everything that came from
 * outside the core (guest frames as the ingest adapter accepted them, driver
 * events, executor outcomes), with instances named by id, never held. Inputs
 * the core makes itself (timers, deadlines, wakes) are not recorded: a replay
 * makes them again from the same clock.
 */

import type { Clock } from "@froctal/primitives";
import { ActionKind, DriverEventKind, type TraceRecord } from "@froctal/protocol";
import type { Action } from "../reconcile/action.js";
import { NETWORK_ID } from "../rollout/network.js";
import type { TickInput } from "../tick/input.js";
import { randomToken } from "../token.js";

/** Where a recording manager hands each record, whole, in the order it accepted them. */
export type Recorder = (record: TraceRecord) => void;

/** The manager's three taps, each the plain function when nothing records: recording is decided once, here. */
export function recording(
  options: { readonly clock: Clock; readonly token?: () => string; readonly record?: Recorder },
  enqueue: (input: TickInput) => void,
): {
  readonly push: (input: TickInput) => void;
  readonly token: () => string;
  readonly tick: (run: (inputs: readonly TickInput[]) => void) => (inputs: readonly TickInput[]) => void;
} {
  const { clock, record } = options;
  const token = options.token ?? randomToken;
  if (record === undefined) return { push: enqueue, token, tick: (run) => run };
  return {
    push: (input) => {
      const r = traceRecordOf(input, clock.now());
      if (r !== undefined) record(r);
      enqueue(input);
    },
    token: () => {
      const t = token();
      record({ at: clock.now(), token: t });
      return t;
    },
    tick: (run) => (inputs) => {
      const at = clock.now();
      const n = inputs.length;
      run(inputs);
      record({ at, tick: { inputs: n } });
    },
  };
}

/** The record of one tick input accepted at `at` (clock.now()), or undefined for one the core made. */
export function traceRecordOf(input: TickInput, at: number): TraceRecord | undefined {
  switch (input.kind) {
    case "opened":
      // Checked frames are the decoded messages, viewed read-only: the encoder only reads them.
      return { at, opened: input.hello as Wire<"opened"> };
    case "batch":
      return { at, batch: { instanceId: input.instance.id, batch: input.batch as Wire<"batch">["batch"] } };
    case "configAck":
      return { at, configAck: { instanceId: input.instance.id, ack: input.ack as Wire<"configAck">["ack"] } };
    case "networkAck":
      // The network answers as a guest does; its id is no instance's (rollout/network.ts).
      return { at, configAck: { instanceId: NETWORK_ID, ack: input.ack as Wire<"configAck">["ack"] } };
    case "closed":
      return { at, closed: { instanceId: input.instance.id, reason: input.reason } };
    case "driver": {
      const e = input.event;
      switch (e.kind) {
        case "started":
          return {
            at,
            driver: { kind: DriverEventKind.DRIVER_EVENT_KIND_STARTED, instanceId: e.instanceId, detail: e.detail },
          };
        case "exited":
          return {
            at,
            driver: {
              kind: DriverEventKind.DRIVER_EVENT_KIND_EXITED,
              instanceId: e.instanceId,
              detail: e.detail,
              requested: e.requested,
              code: e.code,
            },
          };
      }
      break;
    }
    case "outcome": {
      const { action, ok, attempts, error } = input.outcome;
      const ordinal = action.kind === "start" ? action.ordinal : 0;
      return {
        at,
        outcome: {
          kind: kindOf(action),
          service: action.service,
          instanceId: action.instanceId,
          ordinal,
          reason: action.reason,
          ok,
          attempts,
          ...(error === undefined ? {} : { errorCode: error.code, errorMessage: error.sentence }),
        },
      };
    }
    case "expired":
    case "timer":
    case "wake":
      return undefined;
  }
}

type Wire<K extends keyof TraceRecord> = NonNullable<TraceRecord[K]>;

function kindOf(action: Action): ActionKind {
  switch (action.kind) {
    case "start":
      return ActionKind.ACTION_KIND_START;
    case "drain":
      return ActionKind.ACTION_KIND_DRAIN;
    case "stop":
      return ActionKind.ACTION_KIND_STOP;
  }
}
