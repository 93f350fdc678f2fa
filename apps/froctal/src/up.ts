/**
 * `froctal up`: one manager for one fleet, on the process driver, with the
 * agents' WebSocket endpoint and the HTTP API on one port. Wiring only: every
 * decision is the manager core's.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import { Bridge } from "@froctal/bridge";
import { createProcessDriver } from "@froctal/driver-process";
import { type DriverFactory, type FleetSpec, type JournalEntry, Manager } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { type AgentServer, createAgentServer } from "@froctal/server";
import { openSqliteState } from "@froctal/state-sqlite";
import type { Logger } from "pino";
import { createHttpApi } from "./http-api.js";
import { TraceFile } from "./trace-file.js";

export interface UpOptions {
  readonly fleet: FleetSpec;
  /** The fleet module's own driver (default: guests as local child processes). */
  readonly driver?: DriverFactory | undefined;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log: Logger;
  readonly tickMs?: number;
  /** Where generations, instances and committed configurations are kept across restarts. */
  readonly stateDir: string;
  /** Called with every journal entry (the CLI prints decisions). */
  readonly onJournal?: (entry: JournalEntry) => void;
  /** Record the run into this trace file (`froctal replay` reads it); fleetModule is the module's path, for replay. */
  readonly record?: { readonly file: string; readonly fleetModule: string } | undefined;
}

export interface Running {
  readonly manager: Manager;
  /** http://host:port of the HTTP API (and ws://.../agent for agents). */
  readonly url: string;
  /** Stops every guest, then releases the port. */
  stop(): Promise<void>;
}

export async function up(options: UpOptions): Promise<Running> {
  const { log } = options;
  const guestLog = log.child({ component: "guest" });
  const driver: ReturnType<DriverFactory> =
    options.driver?.() ??
    createProcessDriver({ log: (instance, stream, line) => guestLog.info({ instance, stream }, line) });
  let manager: Manager | undefined;
  let edge: AgentServer | undefined;
  // The port must be known before the manager exists (guests are told where it is), so the API asks late.
  const http = createHttpApi(
    () => manager,
    () => edge?.stats,
  );
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  const state = openSqliteState({
    dir: options.stateDir,
    onError: (error) => log.error({ code: error.code }, error.message),
  });
  const trace = options.record === undefined ? undefined : new TraceFile(options.record.file);
  const started = { startedAt: systemClock.now(), startedWall: systemClock.wallNow() };
  // A trace fixes the nonce tag, so that a replay repeats the run's rollout frames.
  const nonceTag = randomBytes(8).toString("hex");
  const core = new Manager({
    ...(trace === undefined ? {} : { record: trace.record, nonceTag }),
    state,
    fleet: options.fleet,
    driver,
    clock: systemClock,
    managerUrl: `ws://${options.host}:${port}/agent`,
    tickMs: options.tickMs ?? 2,
    onJournal: (entry) => {
      log.info({ kind: entry.kind, service: entry.service, instance: entry.instance }, entry.message);
      options.onJournal?.(entry);
    },
  });
  manager = core;
  const server = createAgentServer({ ingest: core.ingest, log: log.child({ component: "edge" }) });
  edge = server;
  server.attachWebSocket(http, { path: "/agent" });
  // Guests whose driver gives them a channel of their own (virtio-serial) reach the manager through it.
  const channels = driver.channels?.bind(driver);
  const bridge = channels === undefined ? undefined : new Bridge({ server });
  const bridging = bridge === undefined ? undefined : setInterval(() => bridge.sync(channels!()), 250);
  // Reads the fleet's id (made and stored at the fleet's first `up`) before anything is launched under it.
  const restored = await core.restore();
  const { adopted, forgotten, orphansStopped, unproven } = restored;
  if (adopted.length + forgotten.length + orphansStopped.length + unproven.length > 0) {
    log.info(restored, `restored state from ${state.path}`);
  }
  trace?.begin({
    fleet: options.fleet.name,
    fleetId: core.fleetId,
    nonceTag,
    ...started,
    reservedGeneration: restored.generation,
    adopted: [...restored.adopted],
    fleetModule: options.record?.fleetModule ?? "",
  });
  core.start();
  const fleet = options.fleet.name;
  log.info({ url, fleet, fleetId: core.fleetId }, `froctal manager for fleet ${fleet} (id ${core.fleetId}) at ${url}`);

  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= (async () => {
      log.info({}, "stopping every guest");
      await core.shutdown();
      core.close();
      trace?.close();
      if (bridging !== undefined) clearInterval(bridging);
      await bridge?.close();
      await server.close();
      await driver.close();
      await state.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
    })();
    return stopping;
  };
  return { manager: core, url, stop };
}
