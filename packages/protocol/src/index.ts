/**
 * @froctal/protocol: the wire contract of proto/froctal/v1 as code.
 *
 *   wire.ts       the generated protobufjs module, configured, and its names
 *   runtime.ts    protobufjs runtime settings, applied before the generated code loads
 *   frames.ts     the frame shapes consumers see after validation
 *   codec.ts      encode / size-check + decode + validate, for one frame
 *   delimited.ts  varint length framing for byte streams
 *   trace.ts      the recorded-run file (trace.proto): header, records, a reader that names bad offsets
 *   trace-input.ts  a trace record as a replay takes it, its guest frames checked again
 *   validate.ts   the contract's rules for decoded frames
 *   version.ts    protocol version negotiation
 *   limits.ts     edge limits and their defaults
 *   errors.ts     FroctalError and the one list of stable error codes
 */

export { type ErrorCode, ErrorCodes, FroctalError, isErrorCode, toFroctalError } from "@froctal/primitives";
export { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "./codec.js";
export { encodeDelimited, FrameReader } from "./delimited.js";
export type {
  AppEvent,
  Batch,
  BuildInfo,
  CheckedAgentFrame,
  CheckedManagerFrame,
  ConfigAbort,
  ConfigAck,
  ConfigCommit,
  ConfigPrepare,
  DeviceEvent,
  Event,
  ExitResult,
  Hello,
  Lifecycle,
  ManagerHello,
  MetricDecl,
  Refuse,
} from "./frames.js";
export { DEFAULT_LIMITS, type Limits } from "./limits.js";
export {
  encodeTraceHeader,
  encodeTraceRecord,
  MAX_TRACE_RECORD_BYTES,
  readTrace,
  TRACE_MAGIC,
  TRACE_VERSION,
  type Trace,
  type TraceEntry,
  type TraceStart,
} from "./trace.js";
export type { TraceInput } from "./trace-input.js";
export { validateAgentFrame, validateManagerFrame } from "./validate.js";
export { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from "./version.js";
export {
  ActionKind,
  type AgentFrame,
  ConfigAckStatus,
  type DecodedTraceHeader,
  type DecodedTraceRecord,
  DeviceChange,
  DriverEventKind,
  LifecyclePhase,
  type ManagerFrame,
  MetricKind,
  type TraceDriverEvent,
  type TraceHeader,
  type TraceOutcome,
  type TraceRecord,
} from "./wire.js";
