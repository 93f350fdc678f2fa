/** Version of this agent library, reported in every hello (BuildInfo.agent_version). */
export const AGENT_VERSION = "0.1.0";
