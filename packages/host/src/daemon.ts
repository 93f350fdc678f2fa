/**
 * `froctal host`: the daemon on one machine. It dials the manager, says who it
 * is (host id and credential) and what it can take, reports the guests it runs
 * for the fleet, runs the start and stop actions it is sent on its driver and
 * answers each with an outcome under the action's key, and passes on its
 * driver's events. Losing the manager loses nothing here: the guests run on,
 * and the daemon dials again until the manager, or another of the fleet's
 * managers it was given, answers.
 */
import type { Driver, DriverEvent, FleetIdentity, NetworkDriver } from "@froctal/manager";
import { type Clock, type Disposer, FroctalError, systemClock, toFroctalError } from "@froctal/primitives";
import { DEFAULT_LIMITS, type HostAction, type HostStart, type Limits } from "@froctal/protocol";
import { type HostInfo, Link, parseManagerUrls } from "./link.js";
import { Outcomes } from "./outcomes.js";
import { eventFrame, guestFrame } from "./wire.js";

export interface HostDaemonOptions {
  /**
   * The manager's host endpoint, ws://host:port/host; or every manager's, comma-separated or as an
   * array (a fleet with standbys): the daemon tries the next whenever one fails and stays on the one
   * that welcomes it (the leader). Checked at construction (FROCTAL_E_CONFIG).
   */
  readonly managerUrl: string | readonly string[];
  readonly hostId: string;
  /** The credential `froctal credential` printed for this host id. */
  readonly credential: string;
  /** Runs this machine's guests. */
  readonly driver: Driver;
  /**
   * The network this machine's guests are on, if any: its description goes in
   * the hello, and the manager's network actions (its part of each network
   * generation) run on it.
   */
  readonly network?: NetworkDriver;
  readonly info: HostInfo;
  readonly clock?: Clock;
  readonly limits?: Limits;
  /** Longest wait between two rounds of attempts to reach the managers, ms. Default 2000. */
  readonly maxRetryMs?: number;
  /** How long a manager may take to welcome this host before the next address is tried, ms. Default 10,000. */
  readonly welcomeTimeoutMs?: number;
  readonly log?: (
    level: "info" | "warn" | "error",
    message: string,
    fields?: Readonly<Record<string, unknown>>,
  ) => void;
}

export class HostDaemon {
  /** Settles when the daemon stops for good: closed (undefined), or refused by the manager in a way retrying cannot fix. */
  readonly finished: Promise<FroctalError | undefined>;
  readonly #o: HostDaemonOptions;
  readonly #link: Link;
  readonly #outcomes = new Outcomes();
  readonly #stopWatching: Disposer;
  #fleet: FleetIdentity | undefined;
  /**
   * Settles once the report of the guests this daemon runs, taken when the
   * manager welcomed it, has been sent. Actions wait for it: a start that ran
   * before the snapshot was taken would be missing from it, and the manager
   * would take the guest for one that is gone.
   */
  #reported: Promise<void> = Promise.resolve();

  constructor(options: HostDaemonOptions) {
    this.#o = options;
    const clock = options.clock ?? systemClock;
    this.#link = new Link({
      urls: parseManagerUrls(options.managerUrl, "HostDaemonOptions.managerUrl"),
      welcomeTimeoutMs: options.welcomeTimeoutMs ?? 10_000,
      hostId: options.hostId,
      credential: options.credential,
      info: { ...options.info, network: options.network?.description ?? "" },
      clock,
      limits: options.limits ?? DEFAULT_LIMITS,
      maxRetryMs: options.maxRetryMs ?? 2000,
      log: options.log ?? (() => {}),
      handlers: {
        welcome: (fleet) => this.#welcome(fleet),
        action: (action) => this.#act(action),
        list: (requestId, fleet) => this.#inventory(requestId, fleet),
      },
    });
    this.finished = this.#link.finished;
    this.#stopWatching = options.driver.watch((event) => this.#event(event));
  }

  /** Starts dialling the manager. */
  /** The manager's host endpoint this daemon is on (of those it was given: the leader, once welcomed). */
  get managerUrl(): string {
    return this.#link.url;
  }

  start(): void {
    this.#link.start();
  }

  /** Hangs up and stops dialling; the guests keep running (closing the driver is the caller's choice). */
  async close(): Promise<void> {
    this.#stopWatching();
    await this.#link.close();
  }

  #welcome(fleet: FleetIdentity): void {
    this.#fleet = fleet;
    this.#reported = this.#inventory(0, fleet);
  }

  #inventory(requestId: number, fleet: FleetIdentity): Promise<void> {
    return this.#o.driver.list(fleet).then(
      (guests) => this.#link.send({ inventory: { requestId, guests: guests.map(guestFrame) } }),
      (error: unknown) => this.#o.log?.("error", `listing the guests failed: ${toFroctalError(error).message}`),
    );
  }

  #act(action: HostAction): void {
    const { key } = action;
    const [instanceId, run] = this.#step(action);
    this.#reported
      .then(() => this.#outcomes.run(key, instanceId, run))
      .then((error) =>
        this.#link.send({
          outcome:
            error === undefined
              ? { key, ok: true, code: "", reason: "" }
              : { key, ok: false, code: error.code, reason: error.sentence },
        }),
      );
  }

  /** What an action does here, and the instance it is about ("" for the network's). */
  #step(action: HostAction): [string, () => Promise<void>] {
    const { driver, network } = this.#o;
    switch (action.kind) {
      case "start":
        return [action.start.instanceId, () => driver.start(this.#marked(action.start))];
      case "stop":
        return [action.stop.instanceId, () => driver.stop(action.stop.instanceId, { graceMs: action.stop.graceMs })];
      case "networkPrepare": {
        const { generation, desired } = action.networkPrepare;
        return ["", () => this.#network(network).prepare(generation, desired)];
      }
      case "networkCommit": {
        const { generation } = action.networkCommit;
        return [
          "",
          async () => {
            const on = this.#network(network);
            await on.commit(generation);
            this.#o.log?.("info", `network generation ${generation} committed on ${on.description}`, { generation });
          },
        ];
      }
      case "networkAbort":
        return ["", async () => network?.abort(action.networkAbort.generation)];
    }
  }

  #network(network: NetworkDriver | undefined): NetworkDriver {
    if (network !== undefined) return network;
    throw new FroctalError("FROCTAL_E_CONFIG", `host ${this.#o.hostId} has no network; its guests are on none`);
  }

  /** Every guest carries its fleet's id and its host's id, so anyone looking at a process can tell whose it is. */
  #marked(start: HostStart): HostStart {
    return { ...start, env: { ...start.env, FROCTAL_FLEET_ID: start.fleetId, FROCTAL_HOST_ID: this.#o.hostId } };
  }

  /**
   * Events go out after the welcome report, in order: a guest that exits
   * while the report is being taken may be in it, and its exit must come
   * after, or the manager would place a guest that is gone.
   */
  #event(event: DriverEvent): void {
    if (event.kind === "exited") this.#outcomes.exited(event.instanceId);
    void this.#reported.then(() => {
      if (this.#fleet !== undefined) this.#link.send({ event: eventFrame(event) });
    });
  }
}
