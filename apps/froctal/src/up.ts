/**
 * `froctal up`: one manager for one fleet, with the agents' WebSocket endpoint
 * (/agent), the hosts' (/host) and the HTTP API on one port. Its guests run on
 * hosts: by default one in this process (the process driver, or the fleet
 * module's own), and any `froctal host` that joins; with --network, the local
 * host's guests sit on an Open vSwitch bridge (network.ts). Wiring only: every
 * decision is the manager core's.
 */
import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { availableParallelism, totalmem } from "node:os";
import { Bridge } from "@froctal/bridge";
import { attachHostsEndpoint, HostsDriver, HostsNetwork, joinLocalHost, vouchFor } from "@froctal/driver-hosts";
import { createProcessDriver } from "@froctal/driver-process";
import { type DriverFactory, type FleetSpec, type JournalEntry, Manager } from "@froctal/manager";
import { FroctalError, systemClock } from "@froctal/primitives";
import { type AgentServer, createAgentServer } from "@froctal/server";
import type { Leadership } from "@froctal/state-etcd";
import type { Logger } from "pino";
import { endpoint } from "./host.js";
import { createHttpApi } from "./http-api.js";
import { type NetworkChoice, openNetwork } from "./network.js";
import { campaignFor, type OpenedState, openState } from "./state.js";
import { TraceFile } from "./trace-file.js";

/** The host id of the guests `froctal up` runs in its own process. */
export const LOCAL_HOST = "local";

export interface UpOptions {
  readonly fleet: FleetSpec;
  /** The fleet module's own driver (default: guests as local child processes). */
  readonly driver?: DriverFactory | undefined;
  readonly host: string;
  /** 0 picks a free port. */
  readonly port: number;
  readonly log: Logger;
  readonly tickMs?: number;
  /** Where generations, instances and committed configurations are kept across restarts (SQLite). */
  readonly stateDir: string;
  /**
   * `etcd://host:port[,...]`: keep them in that etcd cluster instead. Several
   * managers of the fleet may then run: one leads, the others stand by.
   */
  readonly stateUrl?: string | undefined;
  /** With etcd: a leader that dies is replaced after this long, s (default 5). */
  readonly leaseTtlSeconds?: number;
  /**
   * With etcd: this manager stopped leading. Its core has already stopped
   * acting; the caller should `stop({ lost: true })` and may campaign again.
   */
  readonly onLost?: (why: string) => void;
  /** Called with every journal entry (the CLI prints decisions). */
  readonly onJournal?: (entry: JournalEntry) => void;
  /** Record the run into this trace file (`froctal replay` reads it); fleetModule is the module's path, for replay. */
  readonly record?: { readonly file: string; readonly fleetModule: string } | undefined;
  /**
   * Run guests in this process too, as host "local" (default true). Without
   * it, guests run only on hosts that join, and outlive this manager.
   */
  readonly localHost?: boolean;
  /** How long a host may stay silent before its instances are replaced elsewhere, ms (default 10000). */
  readonly hostLostAfterMs?: number;
  /**
   * The address guests on other machines reach this manager at (http://name:port);
   * default the listening address, which is right for one machine only.
   */
  readonly advertise?: string | undefined;
  /**
   * Every manager's address (http://name:port), told to guests besides the
   * managers campaigning when each starts: so that guests launched before a
   * standby came up find it too.
   */
  readonly managers?: readonly URL[];
  /** With etcd: stops waiting to lead (SIGTERM of a standby): up() then rejects with FROCTAL_E_CLOSED, having resigned. */
  readonly signal?: AbortSignal;
  /**
   * Guests of the local host each in a network namespace on this Open vSwitch
   * bridge (network.ts), and the fleet's network policy programmed on it and on
   * every `froctal host`'s network (HostsNetwork); "hosts": on the hosts' only.
   */
  readonly network?: NetworkChoice | "hosts" | undefined;
  /** Called on POST /down (`froctal down`): the caller then stops with `{ fleet: true }`. Without it, /down is 404. */
  readonly onDown?: () => void;
}

export interface Running {
  readonly manager: Manager;
  readonly hosts: HostsDriver;
  /** http://host:port of the HTTP API (and ws://.../agent for agents, ws://.../host for hosts). */
  readonly url: string;
  /**
   * Releases the port. With a local host, or with `fleet` (`froctal down`),
   * every guest is stopped first; otherwise guests on other hosts run on,
   * for the next manager to adopt. With `lost` (leadership lost) the core
   * issues nothing more: guests on other hosts run on, and those of the
   * local host end with its driver.
   */
  stop(options?: { readonly fleet?: boolean; readonly lost?: boolean }): Promise<void>;
}

export async function up(options: UpOptions): Promise<Running> {
  const { log } = options;
  let manager: Manager | undefined;
  // With state in etcd, lead before anything: a standby opens no port and launches nothing.
  const leading =
    options.stateUrl === undefined
      ? undefined
      : campaignFor(options.stateUrl, options.fleet.name, options.leaseTtlSeconds ?? 5, ownAddress(options), (why) => {
          // Not one more action: a successor may be elected any moment now.
          manager?.close();
          log.error({ fleet: options.fleet.name }, `no longer leading fleet ${options.fleet.name}: ${why}`);
          options.onLost?.(why);
        });
  if (leading !== undefined) {
    const { candidateId } = leading;
    log.info({ candidateId }, `campaigning to lead fleet ${options.fleet.name} (standing by while another leads)`);
    // While it waits, it reads the state it would lead on; an etcd out of reach fails the campaign at once.
    const view = openState(options.stateUrl, options.stateDir, (error) =>
      log.error({ code: error.code }, error.message),
    );
    try {
      await Promise.all([
        standBy(view, options.fleet.name, log),
        Promise.race([leading.leadership.elected, aborted(options.signal)]),
      ]);
    } catch (error) {
      await leading.leadership.close();
      throw error;
    } finally {
      await view.state.close();
    }
    log.info({ candidateId }, `leading fleet ${options.fleet.name}`);
  }
  const guestLog = log.child({ component: "guest" });
  const local = options.localHost ?? true;
  const net =
    options.network === undefined || options.network === "hosts"
      ? undefined
      : await openNetwork(options.network, options.fleet.name, log);
  const driver: ReturnType<DriverFactory> | undefined = !local
    ? undefined
    : (options.driver?.(net === undefined ? {} : { nics: net.nics }) ??
      createProcessDriver({
        log: (instance, stream, line) => guestLog.info({ instance, stream }, line),
        ...(net === undefined ? {} : { network: net.guests }),
      }));
  if (net !== undefined && options.driver !== undefined && driver?.joinsNetwork !== true) {
    await driver?.close();
    net.close();
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      "--network puts guests on a bridge, and this fleet module's driver does not (a driver that does says joinsNetwork: the libvirt driver given the nics its factory gets)",
    );
  }
  let edge: AgentServer | undefined;
  // The port must be known before the manager exists (guests are told where it is), so the API asks late.
  let hostsForApi: HostsDriver | undefined;
  const http = createHttpApi({
    current: () => manager,
    network: () => (net === undefined ? undefined : { ...net.stats(), driver: net.driver.description }),
    edge: () => edge?.stats,
    hosts: () => hostsForApi,
    ...(options.onDown === undefined ? {} : { down: options.onDown }),
  });
  await new Promise<void>((resolve, reject) => {
    http.once("error", reject);
    http.listen(options.port, options.host, () => resolve());
  });
  const { port } = http.address() as AddressInfo;
  const url = `http://${options.host}:${port}`;
  // Guests on the bridge reach the manager at its address there, on the same port.
  const onBridge = net === undefined ? undefined : createServer();
  if (onBridge !== undefined) {
    await new Promise<void>((resolve, reject) => {
      onBridge.once("error", reject);
      onBridge.listen(port, net!.gateway, () => resolve());
    });
  }
  const { state, where } = openState(
    options.stateUrl,
    options.stateDir,
    (error) => log.error({ code: error.code }, error.message),
    leading?.leadership,
  );
  const saved = await state.load(options.fleet.name);
  const hostLog = log.child({ component: "hosts" });
  const hosts = new HostsDriver({
    fleet: options.fleet,
    identity: { name: options.fleet.name, id: saved.fleetId },
    // The in-process host comes and goes with this manager: never one to wait for.
    knownHosts: saved.hosts.filter((id) => id !== LOCAL_HOST),
    onJoin: (hostId) => {
      if (hostId !== LOCAL_HOST) state.putHost(options.fleet.name, hostId);
    },
    clock: systemClock,
    ...(options.hostLostAfterMs === undefined ? {} : { lostAfterMs: options.hostLostAfterMs }),
    log: (message, fields) => hostLog.info(fields, message),
  });
  hostsForApi = hosts;
  const detachHosts = attachHostsEndpoint(http, hosts, { hostSecret: saved.hostSecret, clock: systemClock });
  const leaveLocal =
    driver === undefined
      ? undefined
      : joinLocalHost(
          hosts,
          LOCAL_HOST,
          driver,
          {
            cpus: availableParallelism(),
            memoryBytes: totalmem(),
            features: [],
            drivers: [driver.name],
          },
          net?.driver,
        );
  // With --network the fleet's network runs on the hosts' networks, this process's own among them.
  const network =
    options.network === undefined
      ? undefined
      : new HostsNetwork(hosts, { localHost: LOCAL_HOST, log: (message, fields) => hostLog.warn(fields, message) });
  // Every manager's address for the guests, this one first; with etcd, kept up with the standbys that come and go.
  const own = endpoint(net === undefined ? (options.advertise ?? url) : `http://${net.gateway}:${port}`, "/agent");
  const configured = (options.managers ?? []).map((m) => endpoint(m, "/agent"));
  let addresses = [own];
  const followStandbys = async () => {
    const now = await managers(own, configured, leading?.leadership, log);
    if (now.join() === addresses.join()) return;
    addresses = now;
    log.info({ managers: now }, `guests launched from now on are told of ${now.length} managers: ${now.join(", ")}`);
  };
  await followStandbys();
  const following = leading === undefined ? undefined : setInterval(() => void followStandbys(), 1_000);
  const trace = options.record === undefined ? undefined : new TraceFile(options.record.file);
  const started = { startedAt: systemClock.now(), startedWall: systemClock.wallNow() };
  // A trace fixes the nonce tag, so that a replay repeats the run's rollout frames.
  const nonceTag = randomBytes(8).toString("hex");
  const core = new Manager({
    ...(trace === undefined ? {} : { record: trace.record, nonceTag }),
    state,
    fleet: options.fleet,
    driver: hosts,
    ...(network === undefined ? {} : { network }),
    clock: systemClock,
    managerUrl: () => addresses.join(","),
    tickMs: options.tickMs ?? 2,
    onJournal: (entry) => {
      log.info({ kind: entry.kind, service: entry.service, instance: entry.instance }, entry.message);
      options.onJournal?.(entry);
    },
  });
  manager = core;
  const server = createAgentServer({ ingest: core.ingest, log: log.child({ component: "edge" }) });
  edge = server;
  // A host may relay its guests' channels here, vouching for the instances placed on it.
  server.attachWebSocket(http, { path: "/agent", vouch: vouchFor(hosts, saved.hostSecret) });
  if (onBridge !== undefined) server.attachWebSocket(onBridge, { path: "/agent" });
  // Guests whose driver gives them a channel of their own (virtio-serial) reach the manager through it.
  const channels = driver?.channels?.bind(driver);
  const bridge = channels === undefined ? undefined : new Bridge({ server });
  const bridging = bridge === undefined ? undefined : setInterval(() => bridge.sync(channels!()), 250);
  // Reads the fleet's id (made and stored at the fleet's first `up`) before anything is launched under it.
  const restored = await core.restore();
  // Guests a killed run left on the bridge and no longer runs: their namespaces and addresses are freed first.
  await net?.forgetGone(new Set(restored.adopted));
  const { adopted, forgotten, orphansStopped, unproven } = restored;
  if (adopted.length + forgotten.length + orphansStopped.length + unproven.length > 0) {
    log.info(restored, `restored state from ${where}`);
  }
  trace?.begin({
    fleet: options.fleet.name,
    fleetId: core.fleetId,
    nonceTag,
    ...started,
    reservedGeneration: restored.generation,
    lastOrdinal: restored.lastOrdinal,
    adopted: [...restored.adopted],
    fleetModule: options.record?.fleetModule ?? "",
    network: network?.description ?? "",
  });
  if (leading !== undefined && !leading.leadership.leading) {
    // Lost while restoring: onLost has been called, and the caller stops this manager.
    log.warn({}, "not starting the fleet: leadership was lost while restoring");
  } else {
    core.start();
  }
  const fleet = options.fleet.name;
  log.info({ url, fleet, fleetId: core.fleetId }, `froctal manager for fleet ${fleet} (id ${core.fleetId}) at ${url}`);
  log.info(
    { local },
    local
      ? "guests run in this process too: stopping this manager stops the fleet"
      : "guests run only on hosts that join (froctal host): they outlive this manager; froctal down stops the fleet",
  );

  let stopping: Promise<void> | undefined;
  const stop = (how: { readonly fleet?: boolean; readonly lost?: boolean } = {}) => {
    stopping ??= (async () => {
      if (how.lost === true) {
        log.info({}, "leaving every guest on other hosts running for the new leader");
      } else if (local || how.fleet === true) {
        log.info({}, "stopping every guest");
        await core.shutdown();
      } else {
        log.info({}, "leaving every guest running on its host");
      }
      core.close();
      trace?.close();
      if (bridging !== undefined) clearInterval(bridging);
      if (following !== undefined) clearInterval(following);
      await bridge?.close();
      await server.close();
      detachHosts();
      await hosts.close();
      leaveLocal?.();
      await driver?.close();
      net?.close();
      if (onBridge !== undefined) await new Promise<void>((resolve) => onBridge.close(() => resolve()));
      await state.close();
      await leading?.leadership.close();
      await new Promise<void>((resolve) => http.close(() => resolve()));
      http.closeAllConnections();
    })();
    return stopping;
  };
  return { manager: core, hosts, url, stop };
}

/** Rejects with FROCTAL_E_CLOSED once `signal` aborts; never settles without one. */
function aborted(signal: AbortSignal | undefined): Promise<never> {
  return new Promise((_, reject) => {
    const stop = () => reject(new FroctalError("FROCTAL_E_CLOSED", "stopped while standing by"));
    if (signal?.aborted) stop();
    else signal?.addEventListener("abort", stop, { once: true });
  });
}

/**
 * A standby reads the fleet's state once while it waits (no write: unfenced
 * reads only), so that data it could not lead on (corrupt, foreign, of another
 * format) stops it now, not at failover, and says what it would take over.
 * Elected, it loads again: what it leads on is what etcd holds then.
 */
async function standBy({ state, where }: OpenedState, fleet: string, log: Logger): Promise<void> {
  const saved = await state.load(fleet);
  log.info(
    { fleetId: saved.fleetId, instances: saved.instances.length, generation: saved.reservedGeneration },
    `standing by with the state of fleet ${fleet} from ${where}: ${saved.instances.length} instances, generations reserved up to ${saved.reservedGeneration}`,
  );
}

/**
 * Where this manager's agents reach it once it leads, known before it has a
 * port only if it is given (--port or --advertise): what it campaigns with.
 */
function ownAddress(options: UpOptions): string {
  if (options.advertise !== undefined) return endpoint(options.advertise, "/agent");
  return options.port === 0 ? "" : endpoint(`http://${options.host}:${options.port}`, "/agent");
}

/**
 * The addresses its guests are given: its own first, then those given with
 * --managers, then (with etcd) every standby's that campaigned with one, in the
 * order they would lead, so that an agent whose manager is gone tries the next.
 * A standby neither given nor campaigning at a guest's launch is not known to it.
 */
async function managers(
  own: string,
  configured: readonly string[],
  leadership: Leadership | undefined,
  log: Logger,
): Promise<string[]> {
  let others: string[] = [];
  try {
    others = leadership === undefined ? [] : (await leadership.candidates()).map((c) => c.address);
  } catch (error) {
    log.warn({}, `guests will know only this manager's address: ${(error as Error).message}`);
  }
  return [...new Set([own, ...configured, ...others.filter((a) => a !== "")])];
}
