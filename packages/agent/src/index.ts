/**
 * @froctal/agent: the library linked into every guest.
 *
 *   connect.ts, agent.ts   the API guest code holds (signals, commands, close)
 *   options.ts, target.ts  settings from options or FROCTAL_* environment
 *   outbox.ts, metrics.ts  events kept until acked; latest-wins gauges and counters
 *   batch.ts, signals.ts   cutting frames under the manager's limits; building checked events
 *   config.ts              prepare / commit / abort state machine
 *   link.ts, backoff.ts    hello, refusals and reconnects with jittered backoff
 *   transport.ts           the Transport port; transports/ holds WebSocket and byte streams
 *   tasks.ts               track() and absorb(): async results and sources as signals
 */

export { type ErrorCode, FroctalError } from "@froctal/protocol";
export type {
  Agent,
  AgentEvents,
  AgentState,
  CloseResult,
  Counter,
  DeviceSignals,
  DrainCommand,
  Session,
  ShutdownCommand,
} from "./agent.js";
export type { Clock, Disposer } from "./clock.js";
export type { ConfigHandler } from "./config.js";
export { connect } from "./connect.js";
export type { AgentOptions, OverflowPolicy } from "./options.js";
export type { DeviceProperties, PhaseName } from "./signals.js";
export type { AgentStats } from "./stats.js";
export type { Target } from "./target.js";
export type { Absorption } from "./tasks.js";
export type { Transport, TransportEvents, TransportFactory, TransportOptions } from "./transport.js";
export { openTransport } from "./transports/open.js";
export { AGENT_VERSION } from "./version.js";
