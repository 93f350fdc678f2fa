/** Builders for the checked frames an agent sends, with the defaults a real agent would fill in. */
import {
  type Batch,
  type ConfigAck,
  ConfigAckStatus,
  DeviceChange,
  type Event,
  type Hello,
  LifecyclePhase,
  type MetricDecl,
  MetricKind,
  PROTOCOL_VERSION,
} from "@froctal/protocol";

const utf8 = new TextEncoder();

export function hello(fields: Partial<Hello> & { readonly instanceId: string }): Hello {
  return {
    minVersion: PROTOCOL_VERSION,
    maxVersion: PROTOCOL_VERSION,
    token: "",
    streamId: "stream-1",
    runningGeneration: 0,
    build: { app: "test", appVersion: "0", agentVersion: "0", features: [], platform: "test" },
    ...fields,
  };
}

export function batch(fields: Partial<Batch> = {}): Batch {
  return { firstSeq: 1, events: [], metricDecls: [], metricIds: [], metricValues: [], sentAtMs: 0, ...fields };
}

export function lifecycle(phase: LifecyclePhase, task = ""): Event {
  return { atMs: 0, kind: "lifecycle", lifecycle: { phase, task, detail: "" } };
}

export const ready = (): Event => lifecycle(LifecyclePhase.LIFECYCLE_PHASE_READY);
export const drained = (): Event => lifecycle(LifecyclePhase.LIFECYCLE_PHASE_DRAINED);

export function app(name: string, value: unknown): Event {
  return {
    atMs: 0,
    kind: "app",
    app: { name, payload: utf8.encode(JSON.stringify(value)), mediaType: "application/json" },
  };
}

export function device(
  deviceId: string,
  change: "added" | "removed" | "changed",
  kind = "nic",
  properties: Record<string, string> = {},
): Event {
  const c =
    change === "added"
      ? DeviceChange.DEVICE_CHANGE_ADDED
      : change === "removed"
        ? DeviceChange.DEVICE_CHANGE_REMOVED
        : DeviceChange.DEVICE_CHANGE_CHANGED;
  return { atMs: 0, kind: "device", device: { change: c, deviceId, kind, properties } };
}

export function gauge(id: number, name: string): MetricDecl {
  return { id, name, kind: MetricKind.METRIC_KIND_GAUGE, unit: "" };
}

export function configAck(
  generation: number,
  nonce: string,
  status: "prepared" | "committed" | "nacked",
  reason = "",
): ConfigAck {
  const s =
    status === "prepared"
      ? ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED
      : status === "committed"
        ? ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED
        : ConfigAckStatus.CONFIG_ACK_STATUS_NACKED;
  return { generation, nonce, status: s, reason, runningGeneration: status === "committed" ? generation : 0 };
}
