/** The manager's side of host.proto: its actions as frames, the host's reports as the Driver port's values. */
import type { DriverEvent, LaunchSpec, ObservedInstance } from "@froctal/manager";
import type { HostControl, HostGuest, HostGuestEvent } from "@froctal/protocol";
import type { HostAction } from "./host.js";

export function actionFrame(action: HostAction): NonNullable<HostControl["action"]> {
  const { key } = action;
  switch (action.kind) {
    case "stop":
      return { key, stop: { instanceId: action.instanceId, graceMs: Math.round(action.graceMs) } };
    case "networkPrepare": {
      const { services = {}, routes = [] } = action.desired;
      return {
        key,
        networkPrepare: {
          generation: action.generation,
          services: Object.fromEntries(
            Object.entries(services).map(([name, s]) => [
              name,
              { vip: s.vip, port: s.port, backends: [...s.backends] },
            ]),
          ),
          routes: routes.map(({ prefix, via }) => ({ prefix, via })),
        },
      };
    }
    case "networkCommit":
      return { key, networkCommit: { generation: action.generation } };
    case "networkAbort":
      return { key, networkAbort: { generation: action.generation } };
    case "start":
      return startFrame(key, action.spec);
  }
}

function startFrame(key: string, spec: LaunchSpec): NonNullable<HostControl["action"]> {
  return {
    key,
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
