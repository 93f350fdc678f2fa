/**
 * Rollout benchmark guests: a child process holding one real @froctal/agent
 * per instance it is given, each connected over its own WebSocket, each
 * answering configuration prepare and commit at once. One process stands for
 * many guests, so a thousand instances take a few processes, not a thousand.
 *
 * IPC in:  {type: "start", url, instances: [{instanceId, token}]}
 *          {type: "fact", instanceId, name, value}: that instance emits an app event
 *          {type: "stop"}
 * IPC out: {type: "connected"} once every agent has a session; {type: "failed", message}
 */
import { connect } from "@froctal/agent";

/** The process never outlives this, whatever its parent does. */
const MAX_LIFE_MS = 180_000;

type Agent = ReturnType<typeof connect>;

interface Start {
  readonly type: "start";
  readonly url: string;
  readonly instances: readonly { readonly instanceId: string; readonly token: string }[];
}
interface Fact {
  readonly type: "fact";
  readonly instanceId: string;
  readonly name: string;
  readonly value: unknown;
}

setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();
process.on("disconnect", () => process.exit(0));
const send = (message: unknown) => process.send?.(message);
const agents = new Map<string, Agent>();

process.on("message", (m: Start | Fact | { readonly type: "stop" }) => {
  if (m.type === "start") void start(m);
  else if (m.type === "fact") {
    const agent = agents.get(m.instanceId);
    agent?.event(m.name, m.value);
    agent?.flush();
  } else if (m.type === "stop") {
    void Promise.all([...agents.values()].map((a) => a.close({ timeoutMs: 200 }))).finally(() => process.exit(0));
  }
});

async function start(m: Start): Promise<void> {
  for (const { instanceId, token } of m.instances) {
    const agent = connect({
      url: m.url,
      instanceId,
      token,
      build: { app: "bench-router", appVersion: "0.1.0" },
      reconnect: { maxAttempts: 3 },
    });
    let errors = 0;
    agent.on("error", (err) => {
      if (++errors <= 3) console.error(`rollout guest ${instanceId}: ${err.message}`);
    });
    // The handlers answer at once: what is measured is the rollout, not the guests' work.
    agent.onConfig({ prepare: () => undefined, commit: () => {} });
    agent.ready();
    agents.set(instanceId, agent);
  }
  try {
    await Promise.all([...agents.values()].map((a) => a.connected));
    send({ type: "connected" });
  } catch (err) {
    send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
  }
}
