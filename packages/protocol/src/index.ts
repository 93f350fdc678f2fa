/**
 * @froctal/protocol: the wire contract of proto/froctal/v1 as code.
 *
 *   wire.ts       the generated protobufjs module, configured, and its names
 *   runtime.ts    protobufjs runtime settings, applied before the generated code loads
 *   frames.ts     the frame shapes consumers see after validation
 *   codec.ts      encode / size-check + decode + validate, for one frame
 *   host-frames.ts  the host contract's (host.proto) frame shapes after validation
 *   host-codec.ts   encode / size-check + decode + validate, for one host frame
 *   delimited.ts  varint length framing for byte streams
 *   trace.ts      the recorded-run file (trace.proto): header, records, a reader that names bad offsets
 *   trace-input.ts  a trace record as a replay takes it, its guest frames checked again
 *   validate.ts   the contract's rules for decoded frames
 *   validate-host.ts  the host contract's rules, returning host-frames.ts shapes
 *   check.ts      the checks both validators are made of (names, ids, counts, oneofs)
 *   version.ts    protocol version negotiation
 *   vouch.ts      the headers a host relaying a guest's channel to /agent sends
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
export { decodeHostControl, decodeHostFrame, encodeHostControl, encodeHostFrame } from "./host-codec.js";
export type {
  CheckedHostControl,
  CheckedHostFrame,
  HostAction,
  HostCapacity,
  HostGuest,
  HostGuestEvent,
  HostGuestState,
  HostHello,
  HostInventory,
  HostListRequest,
  HostOutcome,
  HostStart,
  HostStop,
  HostWelcome,
} from "./host-frames.js";
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
export { validateHostControl, validateHostFrame } from "./validate-host.js";
export { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from "./version.js";
export { VOUCH_HEADERS } from "./vouch.js";
export {
  ActionKind,
  type AgentFrame,
  ConfigAckStatus,
  type DecodedTraceHeader,
  type DecodedTraceRecord,
  DeviceChange,
  DriverEventKind,
  GuestState,
  type HostControl,
  type HostFrame,
  LifecyclePhase,
  type ManagerFrame,
  MetricKind,
  type TraceDriverEvent,
  type TraceHeader,
  type TraceOutcome,
  type TraceRecord,
} from "./wire.js";
