/**
 * Where a new instance runs: among the hosts that are up and have every
 * feature its service needs, the fleet's placement hook picks, or by default
 * the host with the fewest instances of that service (spread), then the fewest
 * per CPU (capacity), then the smallest id (so a tie is decided the same way
 * every time).
 */
import type { HostView, Placement } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";

export function place<H extends HostView>(
  service: string,
  needs: readonly string[],
  hosts: readonly H[],
  hook: Placement | undefined,
): H {
  const able = hosts.filter((h) => needs.every((feature) => h.features.includes(feature)));
  if (able.length === 0) {
    const why =
      hosts.length === 0
        ? "no host is up"
        : `none of the ${hosts.length} hosts up (${hosts.map((h) => h.id).join(", ")}) has every feature it needs (${needs.join(", ")})`;
    throw new FroctalError("FROCTAL_E_NO_HOST", `no host can take an instance of ${service}: ${why}`);
  }
  if (hook === undefined) return able.reduce((best, h) => (better(service, h, best) ? h : best));
  const chosen = hook(service, able);
  const host = able.find((h) => h.id === chosen);
  if (host !== undefined) return host;
  throw new FroctalError(
    "FROCTAL_E_NO_HOST",
    chosen === undefined
      ? `the fleet's placement placed no instance of ${service} on any of ${able.map((h) => h.id).join(", ")}`
      : `the fleet's placement chose ${JSON.stringify(chosen)} for ${service}, which is not one of the hosts able to take it (${able.map((h) => h.id).join(", ")})`,
  );
}

function better(service: string, a: HostView, b: HostView): boolean {
  const spread = a.guestsOf(service) - b.guestsOf(service);
  if (spread !== 0) return spread < 0;
  const load = a.guests / a.cpus - b.guests / b.cpus;
  if (load !== 0) return load < 0;
  return a.id < b.id;
}
