/** The host's side of host.proto: its guests and events as frames (a checked start is a LaunchSpec already). */
import type { DriverEvent, ObservedInstance } from "@froctal/manager";
import { GuestState, type HostFrame } from "@froctal/protocol";

const STATES: Record<ObservedInstance["state"], GuestState> = {
  running: GuestState.GUEST_STATE_RUNNING,
  stopped: GuestState.GUEST_STATE_STOPPED,
  crashed: GuestState.GUEST_STATE_CRASHED,
  paused: GuestState.GUEST_STATE_PAUSED,
};

export function guestFrame(
  guest: ObservedInstance,
): NonNullable<NonNullable<HostFrame["inventory"]>["guests"]>[number] {
  const { instanceId, fleet, fleetId, service, state } = guest;
  return { instanceId, fleet, fleetId: fleetId ?? "", service, state: STATES[state] };
}

export function eventFrame(event: DriverEvent): NonNullable<HostFrame["event"]> {
  const { instanceId } = event;
  if (event.kind === "started") return { instanceId, started: { detail: event.detail } };
  return { instanceId, exited: { requested: event.requested, code: event.code ?? -1, detail: event.detail } };
}
