/**
 * @froctal/manager: the pure core of the manager (no sockets, processes or
 * timers of its own: see README.md for the folders).
 */
export type { Clock, Disposer } from "@froctal/primitives";
export { canonicalJson } from "./canonical-json.js";
export type { IngestAdapter } from "./ingest/adapter.js";
export type { JournalEntry } from "./journal.js";
export { Manager, type ManagerOptions, type RestoreReport } from "./manager.js";
export {
  type DeviceView,
  type DriverContext,
  type DriverFactory,
  defineFleet,
  type FleetSpec,
  type FleetView,
  type HostView,
  type InstancePhase,
  type InstanceView,
  type MetricView,
  type NetworkRoute,
  type NetworkService,
  type NetworkSpec,
  type Placement,
  type Recommendation,
  type ScaleBehavior,
  type ServiceSpec,
  type ServiceView,
} from "./policy/fleet.js";
export type {
  Driver,
  DriverEvent,
  FleetIdentity,
  LaunchSpec,
  ObservedInstance,
  StopOptions,
} from "./ports/driver.js";
export type { Admission, AgentSession, Channel, Ingest } from "./ports/ingest.js";
export type { GuestNic, NetworkDriver, NicNetwork } from "./ports/network.js";
export type { FleetState, InstanceRecord, StateStore } from "./ports/state.js";
export type { Recorder } from "./record/record.js";
export { type ReplayOptions, type ReplayReport, type ReplayStart, replay } from "./record/replay.js";
export { describeOutcome } from "./rollout/history.js";
export type { CommitFailure, ParticipantResult, RolloutInFlight, RolloutOutcome } from "./rollout/rollout.js";
export type { InstanceStatus, ManagerStatus, ServiceStatus } from "./status.js";
