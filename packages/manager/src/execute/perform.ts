/**
 * One attempt of an action in the world: the only code that calls the driver
 * or writes a command frame for the reconciler. It runs outside ticks (the
 * executor calls it), so it reads plain facts only and changes nothing in the
 * store: what happened comes back as the action's outcome.
 */
import { FroctalError } from "@froctal/protocol";
import type { FleetSpec } from "../policy/fleet.js";
import type { Driver } from "../ports/driver.js";
import type { Action } from "../reconcile/action.js";
import type { FleetStore } from "../store/store.js";
import { timeoutsOf } from "./timeouts.js";

export interface World {
  readonly store: FleetStore;
  readonly fleet: FleetSpec;
  /** The fleet's id, which marks every guest as this fleet's (read at launch: restore() may have set it). */
  readonly fleetId: () => string;
  readonly driver: Driver;
  /** Where guests reach the manager: handed to each guest as FROCTAL_MANAGER_URL. */
  readonly managerUrl: string;
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
            FROCTAL_MANAGER_URL: w.managerUrl,
            FROCTAL_INSTANCE_ID: action.instanceId,
            FROCTAL_TOKEN: instance.token,
          },
        });
        return;
      }
      case "drain": {
        const session = w.store.instance(action.instanceId)?.session;
        if (session === undefined) {
          throw new FroctalError("FROCTAL_E_CLOSED", `${action.instanceId} has no session to drain`);
        }
        const deadlineMs = timeoutsOf(w.fleet, action.service).drainTimeoutMs;
        // A backed-up connection refuses the frame: retryable, so the executor tries again with backoff.
        if (!session.send({ drain: { deadlineMs, reason: action.reason } })) {
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
