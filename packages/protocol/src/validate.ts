/**
 * Checks decoded frames against the contract. Each check names the field it
 * rejects (`batch.events[3].device.device_id`), so a rejection read in a log
 * points at the bug in the guest. Validation narrows the decoded message to
 * the Checked* types without copying it.
 */
import { Check, checkRefuse, ID, NAME } from "./check.js";
import type { CheckedAgentFrame, CheckedManagerFrame } from "./frames.js";
import type { Limits } from "./limits.js";
import type { AgentFrame, ManagerFrame } from "./wire.js";

// Enum ranges of the contract; 0 (UNSPECIFIED) is never valid on the wire.
const METRIC_KINDS = 2;
const DEVICE_CHANGES = 3;
const LIFECYCLE_PHASES = 6;
const ACK_STATUSES = 4;

export function validateAgentFrame(frame: AgentFrame, limits: Limits): CheckedAgentFrame {
  const c = new Check(limits);
  switch (frame.frame) {
    case "hello": {
      const h = frame.hello!;
      c.uint("hello.min_version", h.minVersion);
      c.uint("hello.max_version", h.maxVersion);
      if ((h.minVersion ?? 0) > (h.maxVersion ?? 0)) c.fail("hello.min_version", "is above max_version");
      c.pattern("hello.instance_id", h.instanceId, ID, "instance id");
      c.text("hello.token", h.token, 512);
      c.pattern("hello.stream_id", h.streamId, ID, "stream id");
      c.uint("hello.running_generation", h.runningGeneration);
      const b = h.build;
      if (b) {
        c.text("hello.build.app", b.app, limits.maxNameLength);
        c.text("hello.build.app_version", b.appVersion, limits.maxNameLength);
        c.text("hello.build.agent_version", b.agentVersion, limits.maxNameLength);
        c.text("hello.build.platform", b.platform, limits.maxNameLength);
        const features = b.features ?? [];
        c.count("hello.build.features", features, limits.maxProperties);
        features.forEach((f, i) => {
          c.pattern(`hello.build.features[${i}]`, f, NAME, "feature name");
        });
      } else {
        (h as { build: unknown }).build = EMPTY_BUILD;
      }
      break;
    }
    case "batch":
      checkBatch(c, frame.batch!);
      break;
    case "configAck": {
      const a = frame.configAck!;
      c.uint("config_ack.generation", a.generation);
      c.text("config_ack.nonce", a.nonce, limits.maxNameLength);
      c.enumValue("config_ack.status", a.status, ACK_STATUSES);
      c.text("config_ack.reason", a.reason);
      c.uint("config_ack.running_generation", a.runningGeneration);
      break;
    }
    case "pong":
      c.uint("pong.nonce", frame.pong!.nonce);
      break;
    default:
      c.fail("frame", "carries no case this protocol version knows");
  }
  return frame as CheckedAgentFrame;
}

const EMPTY_BUILD = Object.freeze({
  app: "",
  appVersion: "",
  agentVersion: "",
  features: Object.freeze([]),
  platform: "",
});

function checkBatch(c: Check, b: NonNullable<AgentFrame["batch"]>): void {
  const limits = c.limits;
  const events = b.events ?? [];
  const ids = b.metricIds ?? [];
  const values = b.metricValues ?? [];
  const decls = b.metricDecls ?? [];
  c.uint("batch.first_seq", b.firstSeq);
  c.uint("batch.sent_at_ms", b.sentAtMs);
  c.count("batch.events", events, limits.maxBatchEvents);
  c.count("batch.metric_ids", ids, limits.maxBatchSamples);
  c.count("batch.metric_decls", decls, limits.maxBatchSamples);
  if (events.length > 0 && (b.firstSeq ?? 0) < 1)
    c.fail("batch.first_seq", "must be at least 1 when the batch has events");
  if (ids.length !== values.length) {
    c.fail("batch.metric_values", `has ${values.length} entries but metric_ids has ${ids.length}`);
  }
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    // NaN and infinities would poison every aggregate they reach.
    if (!Number.isFinite(v)) c.fail(`batch.metric_values[${i}]`, `must be a finite number, not ${v}`);
    if (ids[i] === 0) c.fail(`batch.metric_ids[${i}]`, "must be a declared id (>= 1)");
  }
  for (let i = 0; i < decls.length; i++) {
    const d = decls[i]!;
    const path = `batch.metric_decls[${i}]`;
    if (!d.id) c.fail(`${path}.id`, "must be at least 1");
    c.pattern(`${path}.name`, d.name, NAME, "metric name");
    c.enumValue(`${path}.kind`, d.kind, METRIC_KINDS);
    c.text(`${path}.unit`, d.unit, limits.maxNameLength);
  }
  for (let i = 0; i < events.length; i++) {
    const e = events[i]!;
    const path = `batch.events[${i}]`;
    c.uint(`${path}.at_ms`, e.atMs);
    switch (e.kind) {
      case "device": {
        const d = e.device!;
        c.enumValue(`${path}.device.change`, d.change, DEVICE_CHANGES);
        c.pattern(`${path}.device.device_id`, d.deviceId, ID, "device id");
        c.pattern(`${path}.device.kind`, d.kind, NAME, "device kind", true);
        const keys = Object.keys(d.properties ?? {});
        c.count(`${path}.device.properties`, keys, limits.maxProperties);
        for (const k of keys) {
          c.text(`${path}.device.properties key`, k, limits.maxNameLength);
          c.text(`${path}.device.properties[${JSON.stringify(k)}]`, d.properties![k]);
        }
        break;
      }
      case "lifecycle": {
        const l = e.lifecycle!;
        c.enumValue(`${path}.lifecycle.phase`, l.phase, LIFECYCLE_PHASES);
        c.pattern(`${path}.lifecycle.task`, l.task, NAME, "task name", true);
        c.text(`${path}.lifecycle.detail`, l.detail);
        if (l.result) {
          c.text(`${path}.lifecycle.result.value_json`, l.result.valueJson, limits.maxPayloadBytes);
          c.text(`${path}.lifecycle.result.error`, l.result.error);
        }
        break;
      }
      case "app":
        c.pattern(`${path}.app.name`, e.app!.name, NAME, "event name");
        c.bytes(`${path}.app.payload`, e.app!.payload);
        c.text(`${path}.app.media_type`, e.app!.mediaType, limits.maxNameLength);
        break;
      default:
        c.fail(path, "carries no event kind this protocol version knows");
    }
  }
}

export function validateManagerFrame(frame: ManagerFrame, limits: Limits): CheckedManagerFrame {
  const c = new Check(limits);
  switch (frame.frame) {
    case "hello": {
      const h = frame.hello!;
      c.uint("hello.version", h.version);
      c.text("hello.session_id", h.sessionId, limits.maxNameLength);
      c.uint("hello.acked_seq", h.ackedSeq);
      c.uint("hello.max_frame_bytes", h.maxFrameBytes);
      c.uint("hello.max_batch_events", h.maxBatchEvents);
      c.uint("hello.heartbeat_ms", h.heartbeatMs);
      break;
    }
    case "refuse":
      checkRefuse(c, frame.refuse!);
      break;
    case "ack":
      c.uint("ack.seq", frame.ack!.seq);
      break;
    case "prepare": {
      const p = frame.prepare!;
      c.uint("prepare.generation", p.generation);
      c.text("prepare.nonce", p.nonce, limits.maxNameLength);
      c.bytes("prepare.config", p.config);
      c.text("prepare.media_type", p.mediaType, limits.maxNameLength);
      c.uint("prepare.timeout_ms", p.timeoutMs);
      break;
    }
    case "commit":
      c.uint("commit.generation", frame.commit!.generation);
      c.text("commit.nonce", frame.commit!.nonce, limits.maxNameLength);
      break;
    case "abort":
      c.uint("abort.generation", frame.abort!.generation);
      c.text("abort.nonce", frame.abort!.nonce, limits.maxNameLength);
      c.text("abort.reason", frame.abort!.reason);
      break;
    case "drain":
      c.uint("drain.deadline_ms", frame.drain!.deadlineMs);
      c.text("drain.reason", frame.drain!.reason);
      break;
    case "shutdown":
      c.uint("shutdown.grace_ms", frame.shutdown!.graceMs);
      c.text("shutdown.reason", frame.shutdown!.reason);
      break;
    case "ping":
      c.uint("ping.nonce", frame.ping!.nonce);
      break;
    default:
      c.fail("frame", "carries no case this protocol version knows");
  }
  return frame as CheckedManagerFrame;
}
