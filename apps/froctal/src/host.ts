/**
 * `froctal host`: this machine's daemon. Its guests run on the process driver
 * in keep mode (they outlive the daemon, their output in files under the
 * state directory), their records in the host's own SQLite state; a restarted
 * daemon adopts the guests that still run, then dials the manager. With
 * `driver` (a fleet module's, e.g. libvirt domains), guests run on that, and
 * their channels are relayed to the manager, vouched for by this host. With
 * `network`, the guests sit on a bridge of this host's (a namespace each, or a
 * VM's NIC), process guests reach the manager through this host's relay on
 * it, and the manager's network actions run on it. Wiring only.
 */
import { availableParallelism, totalmem } from "node:os";
import { join } from "node:path";
import { Bridge } from "@froctal/bridge";
import { hostCredential } from "@froctal/driver-hosts";
import { createProcessDriver, type GuestRecords, type KeptGuest } from "@froctal/driver-process";
import { ChannelRelay, HostDaemon, openManagerRelay } from "@froctal/host";
import type { Driver, DriverFactory } from "@froctal/manager";
import { FroctalError, parseList } from "@froctal/primitives";
import { openHostState } from "@froctal/state-sqlite";
import type { Logger } from "pino";
import { type NetworkChoice, openNetwork } from "./network.js";
import { openState } from "./state.js";

export interface HostOptions {
  /**
   * The manager's address: http://host:port (its host endpoint is ws://host:port/host); or every
   * manager's of a fleet with standbys, comma-separated: the daemon follows whichever leads.
   */
  readonly manager: string;
  readonly id: string;
  readonly credential: string;
  readonly stateDir: string;
  /** Where relative images and commands resolve (default: the working directory). */
  readonly imageRoot?: string | undefined;
  readonly features: readonly string[];
  /** A fleet module's driver to run guests on instead of the process driver (its guests must outlive it, as domains do). */
  readonly driver?: DriverFactory | undefined;
  /**
   * This host's guests on an Open vSwitch bridge of its own (network.ts: each
   * process guest in a namespace, reaching the manager through this host; a
   * VM with a NIC there), programmed by the manager in its network generations.
   */
  readonly network?: NetworkChoice | undefined;
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
  const managers = managerAddresses(options.manager);
  const state = openHostState(options.stateDir);
  const net = options.network === undefined ? undefined : await openNetwork(options.network, `host-${options.id}`, log);
  // Guests on this host's network reach the manager through this host, at its address there: the manager its link is on.
  let managerUrl = () => endpoint(managers[0]!, "/host");
  const toManager =
    net === undefined
      ? undefined
      : await openManagerRelay({
          host: net.gateway,
          manager: () => managerUrl(),
          log: (line) => log.warn({}, line),
        });
  let driver: ReturnType<DriverFactory>;
  if (options.driver === undefined) {
    const kept = createProcessDriver({
      ...(options.imageRoot === undefined ? {} : { imageRoot: options.imageRoot }),
      keep: { records: recordsIn(state), logDir: join(options.stateDir, "guests") },
      ...(net === undefined ? {} : { network: net.guests }),
    });
    const adoption = await kept.adopt();
    log.info(adoption, `adopted ${adoption.adopted.length} guests still running; ${adoption.gone.length} were gone`);
    await net?.forgetGone(new Set(adoption.adopted));
    driver = toManager === undefined ? kept : toManagerThrough(kept, toManager.agentUrl);
  } else {
    driver = options.driver(net === undefined ? {} : { nics: net.nics });
    if (net !== undefined && driver.joinsNetwork !== true) {
      await driver.close();
      net.close();
      await toManager?.close();
      throw new FroctalError(
        "FROCTAL_E_CONFIG",
        "--network puts guests on a bridge, and the driver of --driver-from does not (a driver that does says joinsNetwork)",
      );
    }
  }
  const daemon = new HostDaemon({
    managerUrl: managers.map((manager) => endpoint(manager, "/host")),
    hostId: options.id,
    credential: options.credential,
    driver,
    ...(net === undefined ? {} : { network: net.driver }),
    info: {
      cpus: availableParallelism(),
      memoryBytes: totalmem(),
      features: options.features,
      drivers: [driver.name],
    },
    log: (level, message, fields) => log[level](fields ?? {}, message),
  });
  managerUrl = () => daemon.managerUrl;
  daemon.start();
  // Guests with a channel of their own reach the manager through this host, which vouches for them.
  const channels = driver.channels?.bind(driver);
  const relay = new ChannelRelay({
    // Each channel goes to the manager the host's link is on: the leader, once it welcomed the host.
    agentUrl: () => endpoint(new URL(daemon.managerUrl), "/agent"),
    hostId: options.id,
    credential: options.credential,
    log: (line) => log.warn({}, line),
  });
  const bridge = channels === undefined ? undefined : new Bridge({ server: relay });
  const bridging = bridge === undefined ? undefined : setInterval(() => bridge.sync(channels!()), 250);
  log.info({ id: options.id, manager: options.manager }, `froctal host ${options.id} dialling ${options.manager}`);
  let stopping: Promise<void> | undefined;
  return {
    finished: daemon.finished,
    stop() {
      stopping ??= (async () => {
        if (bridging !== undefined) clearInterval(bridging);
        await bridge?.close();
        await daemon.close();
        await driver.close();
        await toManager?.close();
        net?.close();
        state.close();
      })();
      return stopping;
    },
  };
}

/** The driver, with every guest told to reach the manager at `agentUrl` (this host's relay on its network). */
function toManagerThrough(driver: Driver, agentUrl: string): Driver {
  return {
    name: driver.name,
    start: (spec) => driver.start({ ...spec, env: { ...spec.env, FROCTAL_MANAGER_URL: agentUrl } }),
    stop: (instanceId, stopOptions) => driver.stop(instanceId, stopOptions),
    list: (fleet) => driver.list(fleet),
    watch: (listener) => driver.watch(listener),
    close: () => driver.close(),
  };
}

const SCHEMES = ["http:", "https:", "ws:", "wss:"];

/**
 * `--manager`: one address, or every manager's of the fleet, comma-separated (http://m1:7070,http://m2:7070).
 * Checked here, before anything starts, so a typo is a sentence naming the entry, not a daemon dialling nowhere.
 */
export function managerAddresses(manager: string, flag = "--manager"): readonly URL[] {
  const bad = (why: string) =>
    new FroctalError(
      "FROCTAL_E_CONFIG",
      `${flag} is not a manager address or a list of them (${why}): ${JSON.stringify(manager)}; give http://host:port, or every manager's: http://m1:7070,http://m2:7070`,
    );
  return parseList(manager, {
    parse: (entry, which) => {
      let url: URL;
      try {
        url = new URL(entry);
      } catch {
        throw bad(`${which} is not a URL`);
      }
      if (!SCHEMES.includes(url.protocol)) throw bad(`${which} is not http://, https://, ws:// or wss://`);
      if (!url.hostname) throw bad(`${which} has no host`);
      return url;
    },
    // http://m:7070 and ws://m:7070 are the same manager.
    key: (url) => endpoint(url, "/host"),
    bad,
  });
}

/** http://host:port or ws://host:port -> ws://host:port<path> (https and wss -> wss). */
export function endpoint(manager: URL | string, path: "/host" | "/agent"): string {
  const url = new URL(manager);
  url.protocol = url.protocol === "https:" || url.protocol === "wss:" ? "wss:" : "ws:";
  url.pathname = path;
  return url.href;
}

function recordsIn(state: ReturnType<typeof openHostState>): GuestRecords {
  return {
    all: () => state.guests().map((row) => JSON.parse(row.record) as KeptGuest),
    put: (guest) => state.putGuest(guest.instanceId, JSON.stringify(guest)),
    delete: (instanceId) => state.deleteGuest(instanceId),
  };
}

/** The credential of host `hostId` in the fleet whose manager keeps its state in `stateDir` or at `stateUrl` (made there if new). */
export async function fleetCredential(
  state: { readonly dir: string; readonly url: string | undefined },
  fleet: string,
  hostId: string,
): Promise<string> {
  const { state: store } = openState(state.url, state.dir, (error) => {
    throw error;
  });
  try {
    const { fleetId, hostSecret } = await store.load(fleet);
    return hostCredential(hostSecret, fleetId, hostId);
  } finally {
    await store.close();
  }
}
