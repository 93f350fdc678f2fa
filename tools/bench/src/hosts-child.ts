/**
 * Hosts benchmark hosts: a child process running one real HostDaemon per
 * host id it is given, each on an in-memory driver (testkit's MemoryDriver:
 * keeps its guests, lists them, launches nothing) and each dialling the
 * manager over a WebSocket of its own. In a process of its own so the
 * manager's heap and RSS hold the manager's side only.
 *
 * IPC in:  {type: "start", url, hosts: [{hostId, credential}], info}
 *          {type: "stop"}
 * IPC out: {type: "started"} once every daemon is dialling; {type: "failed", message}
 */
import { HostDaemon } from "@froctal/host";
import { systemClock } from "@froctal/primitives";
import { MemoryDriver } from "@froctal/testkit";

/** The process never outlives this, whatever its parent does. */
const MAX_LIFE_MS = 120_000;

interface Start {
  readonly type: "start";
  readonly url: string;
  readonly hosts: readonly { readonly hostId: string; readonly credential: string }[];
  readonly info: ConstructorParameters<typeof HostDaemon>[0]["info"];
}

setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();
process.on("disconnect", () => process.exit(0));
const send = (message: unknown) => process.send?.(message);
const daemons: HostDaemon[] = [];
let complaints = 0;

process.on("message", (m: Start | { readonly type: "stop" }) => {
  if (m.type === "start") start(m);
  else void Promise.all(daemons.map((d) => d.close())).finally(() => process.exit(0));
});

function start(m: Start): void {
  try {
    for (const { hostId, credential } of m.hosts) {
      const daemon = new HostDaemon({
        managerUrl: m.url,
        hostId,
        credential,
        driver: new MemoryDriver({ clock: systemClock }),
        info: m.info,
        log: (level, message) => {
          if (level !== "info" && ++complaints <= 5) console.error(`bench host ${hostId}: ${message}`);
        },
      });
      daemon.start();
      daemons.push(daemon);
    }
    send({ type: "started" });
  } catch (err) {
    send({ type: "failed", message: err instanceof Error ? err.message : String(err) });
  }
}
