/**
 * @froctal/protocol: the wire contract of proto/froctal/v1 as code.
 *
 *   wire.ts       the generated protobufjs module, configured, and its names
 *   runtime.ts    protobufjs runtime settings, applied before the generated code loads
 *   frames.ts     the frame shapes consumers see after validation
 *   codec.ts      encode / size-check + decode + validate, for one frame
 *   delimited.ts  varint length framing for byte streams
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
export { validateAgentFrame, validateManagerFrame } from "./validate.js";
export { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from "./version.js";
export {
  type AgentFrame,
  ConfigAckStatus,
  DeviceChange,
  LifecyclePhase,
  type ManagerFrame,
  MetricKind,
} from "./wire.js";
