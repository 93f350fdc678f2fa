import { Agent } from "./agent.js";
import { type AgentOptions, resolveOptions } from "./options.js";

/**
 * Creates an agent and starts connecting to the manager in the background.
 * Options win over the environment (FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID,
 * FROCTAL_TOKEN); a missing or invalid setting throws FROCTAL_E_CONFIG here.
 * Signals may be emitted at once: they wait in the outbox until a session opens.
 */
export function connect(options?: AgentOptions): Agent {
  return new Agent(resolveOptions(options));
}
