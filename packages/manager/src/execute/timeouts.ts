/** A service's deadlines and grace, with the defaults a spec may leave out. */
import type { FleetSpec, ServiceSpec } from "../policy/fleet.js";

export const DEFAULT_TIMEOUTS = { drainTimeoutMs: 30_000, startTimeoutMs: 60_000, stopGraceMs: 5_000 };

export type Timeouts = Required<Pick<ServiceSpec, keyof typeof DEFAULT_TIMEOUTS>>;

export function timeoutsOf(fleet: FleetSpec, service: string): Timeouts {
  const s = fleet.services[service];
  return {
    drainTimeoutMs: s?.drainTimeoutMs ?? DEFAULT_TIMEOUTS.drainTimeoutMs,
    startTimeoutMs: s?.startTimeoutMs ?? DEFAULT_TIMEOUTS.startTimeoutMs,
    stopGraceMs: s?.stopGraceMs ?? DEFAULT_TIMEOUTS.stopGraceMs,
  };
}
