/**
 * The generated protobuf module, configured once, and the names the rest of
 * froctal uses for its messages.
 */
// First: the runtime must be configured before the generated module is evaluated.
import "./runtime.js";
import { froctal } from "./generated/froctal.js";

export const v1 = froctal.v1;

export type AgentFrame = froctal.v1.AgentFrame.$Properties;
export type ManagerFrame = froctal.v1.ManagerFrame.$Properties;
export type AgentHello = froctal.v1.AgentHello.$Properties;
export type ManagerHello = froctal.v1.ManagerHello.$Properties;
export type BuildInfo = froctal.v1.BuildInfo.$Properties;
export type SignalBatch = froctal.v1.SignalBatch.$Properties;
export type MetricDecl = froctal.v1.MetricDecl.$Properties;
export type Event = froctal.v1.Event.$Properties;
export type DeviceEvent = froctal.v1.DeviceEvent.$Properties;
export type Lifecycle = froctal.v1.Lifecycle.$Properties;
export type ExitResult = froctal.v1.ExitResult.$Properties;
export type AppEvent = froctal.v1.AppEvent.$Properties;
export type ConfigAck = froctal.v1.ConfigAck.$Properties;
export type ConfigPrepare = froctal.v1.ConfigPrepare.$Properties;
export type ConfigCommit = froctal.v1.ConfigCommit.$Properties;
export type ConfigAbort = froctal.v1.ConfigAbort.$Properties;
export type Refuse = froctal.v1.Refuse.$Properties;
export type Drain = froctal.v1.Drain.$Properties;
export type Shutdown = froctal.v1.Shutdown.$Properties;

// host.proto: the manager <-> host daemon contract.
export type HostFrame = froctal.v1.HostFrame.$Properties;
export type HostControl = froctal.v1.HostControl.$Properties;
export const GuestState = froctal.v1.GuestState;
export type GuestState = froctal.v1.GuestState;

export const MetricKind = froctal.v1.MetricKind;
export type MetricKind = froctal.v1.MetricKind;
export const DeviceChange = froctal.v1.DeviceChange;
export type DeviceChange = froctal.v1.DeviceChange;
export const LifecyclePhase = froctal.v1.LifecyclePhase;
export type LifecyclePhase = froctal.v1.LifecyclePhase;
export const ConfigAckStatus = froctal.v1.ConfigAckStatus;
export type ConfigAckStatus = froctal.v1.ConfigAckStatus;

export type TraceHeader = froctal.v1.TraceHeader.$Properties;
export type TraceRecord = froctal.v1.TraceRecord.$Properties;
export type TraceOutcome = froctal.v1.TraceOutcome.$Properties;
export type TraceDriverEvent = froctal.v1.TraceDriverEvent.$Properties;
export const DriverEventKind = froctal.v1.DriverEventKind;
export type DriverEventKind = froctal.v1.DriverEventKind;
export const ActionKind = froctal.v1.ActionKind;
export type ActionKind = froctal.v1.ActionKind;
/** Decoded messages: every scalar field present (proto3 defaults), `record` naming the oneof case. */
export type DecodedTraceHeader = froctal.v1.TraceHeader;
export type DecodedTraceRecord = froctal.v1.TraceRecord;
export type DecodedTraceDriverEvent = froctal.v1.TraceDriverEvent;
export type DecodedTraceOutcome = froctal.v1.TraceOutcome;
