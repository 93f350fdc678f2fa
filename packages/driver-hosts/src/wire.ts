/** The manager's side of host.proto: its actions as frames, the host's reports as the Driver port's values. */
import type { DriverEvent, ObservedInstance } from "@froctal/manager";
import type { HostControl, HostGuest, HostGuestEvent } from "@froctal/protocol";
import type { HostAction } from "./host.js";

export function actionFrame(action: HostAction): NonNullable<HostControl["action"]> {
  if (action.kind === "stop") {
    return { key: action.key, stop: { instanceId: action.instanceId, graceMs: Math.round(action.graceMs) } };
  }
  const { spec } = action;
  return {
    key: action.key,
    start: {
      instanceId: spec.instanceId,
      fleet: spec.fleet,
      fleetId: spec.fleetId,
      service: spec.service,
      env: { ...spec.env },
      args: [...(spec.args ?? [])],
      image: spec.image ?? "",
      command: [...(spec.command ?? [])],
    },
  };
}

export function observedOf(guest: HostGuest): ObservedInstance {
  const { instanceId, fleet, fleetId, service, state } = guest;
  return { instanceId, fleet, fleetId: fleetId === "" ? undefined : fleetId, service, state };
}

export function driverEventOf(event: HostGuestEvent): DriverEvent {
  const { instanceId } = event;
  if (event.kind === "started") return { kind: "started", instanceId, detail: event.detail };
  return { kind: "exited", instanceId, requested: event.requested, code: event.code, detail: event.detail };
}
