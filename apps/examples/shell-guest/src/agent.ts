/**
 * The agent program guest.sh execs: it connects with what the environment
 * says (FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN), reports the
 * arguments it was given as the app event `argv`, says ready, and exits on
 * SIGTERM once its last signals are flushed.
 */
import { connect } from "@froctal/agent";

const args = process.argv.slice(2);
const agent = connect({ build: { app: "shell-guest", appVersion: "0.1.0" } });
agent.on("error", (err) => console.error(err.code, err.message));
agent.event("argv", { args });
agent.ready();
console.log(`agent ${process.env.FROCTAL_INSTANCE_ID} runs with ${JSON.stringify(args)}`);
agent.exitOnSignals();
