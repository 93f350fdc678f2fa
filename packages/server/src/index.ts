export type { Admission, AgentSession, Channel, Ingest } from "./ingest.js";
