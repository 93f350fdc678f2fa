/**
 * A trace record as a replay consumes it: one typed value per case, the
 * guests' frames checked again by the contract's own rules (validate.ts), so a
 * replay trusts a trace file no more than it trusts a guest.
 */
import { FroctalError, toFroctalError } from "@froctal/primitives";
import type { Batch, ConfigAck, Hello } from "./frames.js";
import { DEFAULT_LIMITS } from "./limits.js";
import { validateAgentFrame } from "./validate.js";
import {
  ActionKind,
  type DecodedTraceDriverEvent,
  type DecodedTraceOutcome,
  type DecodedTraceRecord,
  DriverEventKind,
} from "./wire.js";

export type TraceInput = { readonly at: number } & (
  | { readonly kind: "tick"; readonly inputs: number }
  | { readonly kind: "token"; readonly token: string }
  | { readonly kind: "shutdown" }
  | { readonly kind: "opened"; readonly hello: Hello }
  | { readonly kind: "batch"; readonly instanceId: string; readonly batch: Batch }
  | { readonly kind: "configAck"; readonly instanceId: string; readonly ack: ConfigAck }
  | { readonly kind: "closed"; readonly instanceId: string; readonly reason: string }
  | { readonly kind: "started"; readonly instanceId: string; readonly detail: string }
  | {
      readonly kind: "exited";
      readonly instanceId: string;
      readonly requested: boolean;
      readonly code: number | null;
      readonly detail: string;
    }
  | {
      readonly kind: "outcome";
      readonly action: "start" | "drain" | "stop";
      readonly service: string;
      readonly instanceId: string;
      readonly ordinal: number;
      readonly reason: string;
      readonly ok: boolean;
      readonly attempts: number;
      /** For a failed action: its FROCTAL_E_* code (as recorded) and sentence. */
      readonly error?: { readonly code: string; readonly message: string };
    }
);

/** Checks one decoded record; throws FROCTAL_E_TRACE naming `offset` for one that breaks the contract. */
export function toTraceInput(r: DecodedTraceRecord, offset: number): TraceInput {
  const at = r.at;
  try {
    switch (r.record) {
      case "tick":
        return { at, kind: "tick", inputs: r.tick!.inputs ?? 0 };
      case "token":
        return { at, kind: "token", token: r.token! };
      case "shutdown":
        return { at, kind: "shutdown" };
      case "opened": {
        const f = validateAgentFrame({ frame: "hello", hello: r.opened! }, DEFAULT_LIMITS);
        if (f.frame !== "hello") break;
        return { at, kind: "opened", hello: f.hello };
      }
      case "batch": {
        const f = validateAgentFrame({ frame: "batch", batch: r.batch!.batch ?? {} }, DEFAULT_LIMITS);
        if (f.frame !== "batch") break;
        return { at, kind: "batch", instanceId: r.batch!.instanceId ?? "", batch: f.batch };
      }
      case "configAck": {
        const f = validateAgentFrame({ frame: "configAck", configAck: r.configAck!.ack ?? {} }, DEFAULT_LIMITS);
        if (f.frame !== "configAck") break;
        return { at, kind: "configAck", instanceId: r.configAck!.instanceId ?? "", ack: f.configAck };
      }
      case "closed":
        return { at, kind: "closed", instanceId: r.closed!.instanceId ?? "", reason: r.closed!.reason ?? "" };
      case "driver": {
        // Decoded, so every scalar reads its default: the $Properties type says less than is there.
        const d = r.driver as DecodedTraceDriverEvent;
        switch (d.kind) {
          case DriverEventKind.DRIVER_EVENT_KIND_STARTED:
            return { at, kind: "started", instanceId: d.instanceId, detail: d.detail };
          case DriverEventKind.DRIVER_EVENT_KIND_EXITED: {
            const code = d.code ?? null;
            return { at, kind: "exited", instanceId: d.instanceId, requested: d.requested, code, detail: d.detail };
          }
          case DriverEventKind.DRIVER_EVENT_KIND_UNSPECIFIED:
            break;
        }
        break;
      }
      case "outcome": {
        const o = r.outcome as DecodedTraceOutcome;
        const action = actionOf(o.kind);
        if (action === undefined) break;
        const { service, instanceId, ordinal, reason, ok, attempts } = o;
        const error = ok ? {} : { error: { code: o.errorCode, message: o.errorMessage } };
        return { at, kind: "outcome", action, service, instanceId, ordinal, reason, ok, attempts, ...error };
      }
      case undefined:
        break;
    }
  } catch (cause) {
    const why = toFroctalError(cause, "FROCTAL_E_TRACE").sentence;
    throw new FroctalError("FROCTAL_E_TRACE", `the trace record at byte offset ${offset} is invalid: ${why}`);
  }
  throw new FroctalError(
    "FROCTAL_E_TRACE",
    `the trace record at byte offset ${offset} carries a ${r.record ?? "nothing"} this froctal does not know`,
  );
}

function actionOf(kind: ActionKind): "start" | "drain" | "stop" | undefined {
  switch (kind) {
    case ActionKind.ACTION_KIND_START:
      return "start";
    case ActionKind.ACTION_KIND_DRAIN:
      return "drain";
    case ActionKind.ACTION_KIND_STOP:
      return "stop";
    case ActionKind.ACTION_KIND_UNSPECIFIED:
      return undefined;
  }
}
