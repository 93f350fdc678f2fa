/**
 * The smallest useful guest: connect from the environment the manager gives
 * (FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN), report a gauge,
 * say ready. scripts/size.mjs bundles this file to measure the agent's weight.
 */
import { connect } from "@froctal/agent";

const agent = connect({ build: { app: "minimal", appVersion: "0.1.0" } });
agent.on("error", (err) => console.error(err.message));
agent.gauge("load", 0);
agent.ready();
setInterval(() => agent.gauge("load", process.cpuUsage().user / 1e6), 1000).unref();
process.once("SIGTERM", () => void agent.close());
