/**
 * @froctal/server: the manager's edge. Accepts agent connections over
 * WebSocket or any byte stream, checks every frame against the contract, and
 * talks to the manager core only through its Ingest port (whose types,
 * Ingest, AgentSession, Admission and Channel, @froctal/manager owns).
 *
 *   server.ts            createAgentServer: connections, one session per instance, stats, close()
 *   connection.ts        the session logic, once for every transport (with heartbeat.ts, rate.ts)
 *   outbound.ts          what an open session writes to the agent: the core's frames, Acks, pings
 *   transport.ts         the seam between the session logic and the transports
 *   websocket.ts         WebSocket transport (one binary message = one frame)
 *   stream.ts            byte-stream transport (varint-delimited frames), unix sockets
 *   recording-ingest.ts  a small real Ingest for demos and tests
 */

export { type AgentServerOptions, DEFAULT_RATE, type RateLimits, type ServerLog } from "./options.js";
export {
  createRecordingIngest,
  type MetricValue,
  type RecordedConfigAck,
  type RecordedEvent,
  type RecordingIngest,
  type RecordingIngestOptions,
} from "./recording-ingest.js";
export { type AgentServer, createAgentServer } from "./server.js";
export type { ServerStats } from "./stats.js";
export type { Endpoint } from "./transport.js";
export type { Vouch } from "./websocket.js";
