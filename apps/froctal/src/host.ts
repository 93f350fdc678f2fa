/**
 * `froctal host`: this machine's daemon. Its guests run on the process driver
 * in keep mode (they outlive the daemon, their output in files under the
 * state directory), their records in the host's own SQLite state; a restarted
 * daemon adopts the guests that still run, then dials the manager. Wiring only.
 */
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { hostCredential } from "@froctal/driver-hosts";
import { createProcessDriver, type GuestRecords, type KeptGuest } from "@froctal/driver-process";
import { HostDaemon } from "@froctal/host";
import type { FroctalError } from "@froctal/primitives";
import { openHostState, openSqliteState } from "@froctal/state-sqlite";
import type { Logger } from "pino";

export interface HostOptions {
  /** The manager's address: http://host:port (its host endpoint is ws://host:port/host). */
  readonly manager: string;
  readonly id: string;
  readonly credential: string;
  readonly stateDir: string;
  /** Where relative images and commands resolve (default: the working directory). */
  readonly imageRoot?: string | undefined;
  readonly features: readonly string[];
  readonly log: Logger;
}

export interface RunningHost {
  /** Settles when the daemon stops for good: undefined when stopped, the refusal when the manager refused it for good. */
  readonly finished: Promise<FroctalError | undefined>;
  /** Hangs up; the guests keep running. */
  stop(): Promise<void>;
}

export async function runHost(options: HostOptions): Promise<RunningHost> {
  const { log } = options;
  const state = openHostState(options.stateDir);
  const driver = createProcessDriver({
    ...(options.imageRoot === undefined ? {} : { imageRoot: options.imageRoot }),
    keep: { records: recordsIn(state), logDir: join(options.stateDir, "guests") },
  });
  const adoption = await driver.adopt();
  log.info(adoption, `adopted ${adoption.adopted.length} guests still running; ${adoption.gone.length} were gone`);
  const daemon = new HostDaemon({
    managerUrl: hostEndpoint(options.manager),
    hostId: options.id,
    credential: options.credential,
    driver,
    info: {
      cpus: availableParallelism(),
      memoryBytes: totalmem(),
      features: options.features,
      drivers: [driver.name],
    },
    log: (level, message, fields) => log[level](fields ?? {}, message),
  });
  daemon.start();
  log.info({ id: options.id, manager: options.manager }, `froctal host ${options.id} dialling ${options.manager}`);
  let stopping: Promise<void> | undefined;
  return {
    finished: daemon.finished,
    stop() {
      stopping ??= (async () => {
        await daemon.close();
        await driver.close();
        state.close();
      })();
      return stopping;
    },
  };
}

/** http://host:port or ws://host:port -> ws://host:port/host. */
function hostEndpoint(manager: string): string {
  const url = new URL(manager);
  url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
  url.pathname = "/host";
  return url.href;
}

function recordsIn(state: ReturnType<typeof openHostState>): GuestRecords {
  return {
    all: () => state.guests().map((row) => JSON.parse(row.record) as KeptGuest),
    put: (guest) => state.putGuest(guest.instanceId, JSON.stringify(guest)),
    delete: (instanceId) => state.deleteGuest(instanceId),
  };
}

/** The credential of host `hostId` in the fleet whose manager keeps its state in `stateDir` (made there if new). */
export async function fleetCredential(stateDir: string, fleet: string, hostId: string): Promise<string> {
  const state = openSqliteState({ dir: stateDir });
  try {
    const { fleetId, hostSecret } = state.load(fleet);
    return hostCredential(hostSecret, fleetId, hostId);
  } finally {
    await state.close();
  }
}
