/**
 * The one door from the store to the world: the only code that calls the
 * driver or writes a frame to a guest's session (perform.test.ts checks that
 * no other file in src calls a session's send). `performer` runs one attempt
 * of an action; the executor calls it outside ticks, so it reads plain facts
 * only and changes nothing in the store: what happened comes back as the
 * action's outcome. `command` writes one frame now, synchronously: the
 * executor's drain attempts and the rollout's configuration steps both go
 * through it, so no configuration step waits behind a driver call.
 * `networkStep` hands the network's part of a generation to the network
 * driver; its answer comes back later, as the guests' do.
 */
import { type ConfigAck, ConfigAckStatus, FroctalError, type ManagerFrame } from "@froctal/protocol";
import type { FleetSpec } from "../policy/fleet.js";
import type { Driver } from "../ports/driver.js";
import type { NetworkDriver } from "../ports/network.js";
import type { Action, Configure } from "../reconcile/action.js";
import type { Instance } from "../store/instance.js";
import type { FleetStore } from "../store/store.js";
import { timeoutsOf } from "./timeouts.js";

const utf8 = new TextEncoder();

/** A frame for one guest: the reconciler's drain, or one step of a configuration generation. */
export type Command = { readonly kind: "drain"; readonly deadlineMs: number; readonly reason: string } | Configure;

/**
 * Writes one command to the instance's current session, now. False when it has
 * no session, or the connection is closed or too backed up to take the frame;
 * throws FROCTAL_E_FRAME_TOO_LARGE as the session does. Never queued: a frame
 * that could not be written is the caller's to retry or give up on.
 */
export function command(instance: Instance, c: Command): boolean {
  return instance.session?.send(frameOf(c)) ?? false;
}

/**
 * Hands one step of a generation to the network driver. Its answer comes
 * back through `answer` as the ConfigAck a guest would send: prepared or
 * nacked, committed or (commit refused: nothing applied) nacked while it
 * still runs `running`. Abort is not answered. Always true: the driver takes
 * every step; a failure is its answer.
 */
export function networkStep(
  driver: NetworkDriver,
  running: number,
  c: Configure,
  answer: (ack: ConfigAck) => void,
): boolean {
  const { generation, nonce } = c;
  const reply = (status: ConfigAckStatus, runningGeneration: number, reason = "") =>
    answer({ generation, nonce, status, reason, runningGeneration });
  const refused = (runningGeneration: number) => (error: unknown) =>
    reply(ConfigAckStatus.CONFIG_ACK_STATUS_NACKED, runningGeneration, (error as Error)?.message ?? String(error));
  switch (c.step) {
    case "prepare":
      // A driver that throws rather than rejects is answered all the same.
      Promise.resolve(c.json)
        .then((json) => driver.prepare(generation, JSON.parse(json)))
        .then(() => reply(ConfigAckStatus.CONFIG_ACK_STATUS_PREPARED, running), refused(running));
      return true;
    case "commit":
      Promise.resolve(generation)
        .then((g) => driver.commit(g))
        .then(() => reply(ConfigAckStatus.CONFIG_ACK_STATUS_COMMITTED, generation), refused(running));
      return true;
    case "abort":
      driver.abort(generation);
      return true;
  }
}

function frameOf(c: Command): ManagerFrame {
  switch (c.kind) {
    case "drain":
      return { drain: { deadlineMs: c.deadlineMs, reason: c.reason } };
    case "configure":
      switch (c.step) {
        case "prepare": {
          const { generation, nonce, timeoutMs } = c;
          return {
            prepare: { generation, nonce, config: utf8.encode(c.json), mediaType: "application/json", timeoutMs },
          };
        }
        case "commit":
          return { commit: { generation: c.generation, nonce: c.nonce } };
        case "abort":
          return { abort: { generation: c.generation, nonce: c.nonce, reason: c.reason } };
      }
  }
}

export interface World {
  readonly store: FleetStore;
  readonly fleet: FleetSpec;
  /** The fleet's id, which marks every guest as this fleet's (read at launch: restore() may have set it). */
  readonly fleetId: () => string;
  readonly driver: Driver;
  /** Where guests reach the manager (read at launch): handed to each guest as FROCTAL_MANAGER_URL. */
  readonly managerUrl: () => string;
}

export function performer(w: World): (action: Action) => Promise<void> {
  return async (action) => {
    switch (action.kind) {
      case "start": {
        // Gone before its turn came (it failed its start deadline while queued): nothing to launch.
        const instance = w.store.instance(action.instanceId);
        if (instance === undefined || instance.phase !== "requested") return;
        const spec = w.fleet.services[action.service]!;
        // checkFleet (run by new Manager) let through exactly one of command and image.
        const what =
          spec.command !== undefined ? { command: spec.command } : { image: spec.image!, args: spec.args ?? [] };
        await w.driver.start({
          instanceId: action.instanceId,
          fleet: w.fleet.name,
          fleetId: w.fleetId(),
          service: action.service,
          ...what,
          env: {
            ...spec.env,
            FROCTAL_MANAGER_URL: w.managerUrl(),
            FROCTAL_INSTANCE_ID: action.instanceId,
            FROCTAL_TOKEN: instance.token,
          },
        });
        return;
      }
      case "drain": {
        const instance = w.store.instance(action.instanceId);
        if (instance?.session === undefined) {
          throw new FroctalError("FROCTAL_E_CLOSED", `${action.instanceId} has no session to drain`);
        }
        const deadlineMs = timeoutsOf(w.fleet, action.service).drainTimeoutMs;
        // A backed-up connection refuses the frame: retryable, so the executor tries again with backoff.
        if (!command(instance, { kind: "drain", deadlineMs, reason: action.reason })) {
          throw new FroctalError(
            "FROCTAL_E_TRANSPORT",
            `the connection of ${action.instanceId} is backed up: its drain frame could not be sent`,
          );
        }
        return;
      }
      case "stop":
        await w.driver.stop(action.instanceId, { graceMs: timeoutsOf(w.fleet, action.service).stopGraceMs });
        return;
    }
  };
}
