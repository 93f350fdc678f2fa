/**
 * Builds the events guest code emits and checks each one against the contract
 * before it is queued, with the manager's own validator: an event the manager
 * would reject must fail at the call that made it, because once queued it
 * would be re-sent, and rejected, after every reconnect.
 */
import {
  type AgentFrame,
  type DeviceChange,
  encodeAgentFrame,
  FroctalError,
  LifecyclePhase,
  type Limits,
  validateAgentFrame,
} from "@froctal/protocol";

const utf8 = new TextEncoder();

/** An event as the agent queues it: the wire shape of froctal.v1.Event. */
export type WireEvent = NonNullable<NonNullable<AgentFrame["batch"]>["events"]>[number];

/** Bytes a batch frame needs besides its events and samples (frame and batch headers, first_seq, sent_at_ms). */
export const BATCH_OVERHEAD = 40;

export type PhaseName = "starting" | "ready" | "draining" | "drained" | "stopping" | "exited";

const PHASES: Record<PhaseName, LifecyclePhase> = {
  starting: LifecyclePhase.LIFECYCLE_PHASE_STARTING,
  ready: LifecyclePhase.LIFECYCLE_PHASE_READY,
  draining: LifecyclePhase.LIFECYCLE_PHASE_DRAINING,
  drained: LifecyclePhase.LIFECYCLE_PHASE_DRAINED,
  stopping: LifecyclePhase.LIFECYCLE_PHASE_STOPPING,
  exited: LifecyclePhase.LIFECYCLE_PHASE_EXITED,
};

export function toPhase(phase: LifecyclePhase | PhaseName): LifecyclePhase {
  const value = typeof phase === "string" ? PHASES[phase] : phase;
  if (value === undefined || !Object.values(PHASES).includes(value)) {
    throw new FroctalError("FROCTAL_E_FRAME_INVALID", `${JSON.stringify(phase)} is not a lifecycle phase`);
  }
  return value;
}

export type DeviceProperties = Readonly<Record<string, string | number | boolean>>;

export function deviceEvent(
  atMs: number,
  change: DeviceChange,
  deviceId: string,
  kind: string,
  properties: DeviceProperties = {},
): WireEvent {
  const props: Record<string, string> = {};
  for (const [k, v] of Object.entries(properties)) props[k] = String(v);
  return { atMs, kind: "device", device: { change, deviceId, kind, properties: props } };
}

export interface ExitOutcome {
  readonly ok: boolean;
  readonly code?: number;
  readonly valueJson?: string;
  readonly error?: string;
}

export function lifecycleEvent(
  atMs: number,
  phase: LifecyclePhase,
  detail: string,
  task = "",
  result?: ExitOutcome,
): WireEvent {
  return {
    atMs,
    kind: "lifecycle",
    lifecycle: {
      phase,
      task,
      detail,
      result: result && {
        ok: result.ok,
        code: result.code ?? (result.ok ? 0 : 1),
        valueJson: result.valueJson ?? "",
        error: result.error ?? "",
      },
    },
  };
}

/**
 * An application event. Bytes travel as given (media type default
 * application/octet-stream); anything else is JSON-encoded and travels with an
 * empty media type, which the contract reads as application/json.
 */
export function appEvent(atMs: number, name: string, payload: unknown, mediaType?: string): WireEvent {
  let bytes: Uint8Array;
  let type = mediaType ?? "";
  if (payload instanceof Uint8Array) {
    bytes = payload;
    if (mediaType === undefined) type = "application/octet-stream";
  } else {
    const json = payload === undefined ? "" : JSON.stringify(payload);
    if (json === undefined) {
      throw new FroctalError("FROCTAL_E_FRAME_INVALID", `the payload of event ${JSON.stringify(name)} is not JSON`);
    }
    bytes = utf8.encode(json);
  }
  return { atMs, kind: "app", app: { name, payload: bytes, mediaType: type } };
}

/**
 * Checks one event against `limits` exactly as the manager will, and returns
 * the bytes it adds to a batch (its field tag, length and body). Throws
 * FROCTAL_E_FRAME_TOO_LARGE for a payload or event over the limits and
 * FROCTAL_E_FRAME_INVALID for anything else the contract forbids.
 */
export function measureEvent(event: WireEvent, limits: Limits): number {
  const payload = event.app?.payload;
  if (payload && payload.length > limits.maxPayloadBytes) {
    throw new FroctalError(
      "FROCTAL_E_FRAME_TOO_LARGE",
      `the payload of event ${JSON.stringify(event.app?.name)} is ${payload.length} bytes; the limit is ${limits.maxPayloadBytes}`,
    );
  }
  // Checked as the manager will check it (on the object: no decode), then measured by encoding it once.
  try {
    validateAgentFrame(
      {
        frame: "batch",
        batch: { firstSeq: 1, events: [event], metricDecls: [], metricIds: [], metricValues: [], sentAtMs: 0 },
      },
      limits,
    );
  } catch (err) {
    if (err instanceof FroctalError) {
      // Report the event's own field path, not the probe batch's.
      throw new FroctalError(err.code, err.sentence.replace(/^batch\.events\[0\]\./, "event "));
    }
    throw err;
  }
  const probe = encodeAgentFrame({ batch: { firstSeq: 1, events: [event] } });
  const size = readVarint(probe, 1) - 2; // the batch body less its first_seq field (tag + one byte)
  if (size + BATCH_OVERHEAD > limits.maxFrameBytes) {
    throw new FroctalError(
      "FROCTAL_E_FRAME_TOO_LARGE",
      `an event of ${size} bytes does not fit in a frame of at most ${limits.maxFrameBytes} bytes`,
    );
  }
  return size;
}

export function varintLength(n: number): number {
  let len = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    len++;
  }
  return len;
}

function readVarint(bytes: Uint8Array, at: number): number {
  let value = 0;
  let scale = 1;
  for (let i = at; i < bytes.length; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * scale;
    if (b < 0x80) return value;
    scale *= 128;
  }
  throw new FroctalError("FROCTAL_E_INTERNAL", "a frame the agent encoded has a truncated length");
}
