import { type AgentOptions, connect } from "../src/index.js";
import { TOKEN } from "./harness.js";

/** An agent for web-1 with test-friendly timings; nothing read from the real environment. */
export function testAgent(url: string, options: Partial<AgentOptions> = {}) {
  return connect({
    env: {},
    url,
    instanceId: "web-1",
    token: TOKEN,
    build: { app: "web", appVersion: "1.2.3", features: ["tls", "hotplug-nic"] },
    flushIntervalMs: 5,
    reconnect: { initialMs: 20, maxMs: 200 },
    closeTimeoutMs: 2_000,
    ...options,
  });
}
