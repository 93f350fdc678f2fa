/**
 * @froctal/agent: the library linked into every guest. See README.md for the
 * folders and what each may import.
 *
 *   agent.ts, connect.ts   the facade guest code holds (types.ts: its shapes); connect() reads options.ts
 *                          and FROCTAL_* from the environment
 *   exit-on-signals.ts     a clean exit on SIGTERM / SIGINT (Node)
 *   core/                  pure: outbox, metrics, batch, signals, config machine, backoff, the Transport port
 *   session/               the conversation with the manager: link, sender, frame dispatch
 *   transports/            WebSocket and byte streams behind the Transport port (Node)
 *
 * The pure configuration machine has an entry of its own, @froctal/agent/core.
 */

export type { Clock, Disposer } from "@froctal/primitives";
export { type ErrorCode, FroctalError } from "@froctal/protocol";
export type { Agent } from "./agent.js";
export { connect } from "./connect.js";
export type { ConfigHandler } from "./core/config.js";
export type { OverflowPolicy } from "./core/outbox.js";
export type { DeviceProperties, PhaseName } from "./core/signals.js";
export type { AgentStats } from "./core/stats.js";
export type { Target } from "./core/target.js";
export type { Consumer } from "./core/tasks.js";
export type { Transport, TransportEvents, TransportFactory, TransportOptions } from "./core/transport.js";
export type { AgentOptions } from "./options.js";
export { AGENT_VERSION } from "./session/version.js";
export { openTransport } from "./transports/open.js";
export type {
  AgentEvents,
  AgentState,
  CloseResult,
  Counter,
  DeviceSignals,
  DrainCommand,
  Session,
  ShutdownCommand,
} from "./types.js";
