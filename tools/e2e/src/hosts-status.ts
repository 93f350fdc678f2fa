/**
 * Reading a hosts fleet's state, two ways that must agree: GET /status (each
 * service, each host's status and guest count, the host of each instance) and
 * the guest processes themselves (by FROCTAL_HOST_ID in their environment);
 * and the lb guest's own counters.
 */
import { eventually } from "./fleet.js";
import { type HostsStatus, type Manager, oneEach } from "./hosts-fleet.js";

export const HOSTS = ["a", "b"] as const;
export type HostId = (typeof HOSTS)[number];

/** The service of that name in a status (throws if there is none). */
export function service(s: HostsStatus, name: string) {
  const svc = s.services.find((x) => x.name === name);
  if (svc === undefined) throw new Error(`no service ${name} in ${JSON.stringify(s.services)}`);
  return svc;
}

/** Each host as "id status guests", by id (status lists them in the order they joined). */
export const hostsOf = (s: HostsStatus) =>
  [...s.hosts]
    .sort((x, y) => (x.id < y.id ? -1 : 1))
    .map((h) => `${h.id} ${h.status} ${h.guests}`)
    .join();

/** Every instance id status lists, sorted. */
export const ids = (s: HostsStatus) => s.services.flatMap((svc) => svc.instances.map((i) => i.id)).sort();

/** The instance ids placed on each host, as status says, sorted. */
export function placedOn(s: HostsStatus): Record<HostId, string[]> {
  const on: Record<HostId, string[]> = { a: [], b: [] };
  for (const [instance, host] of Object.entries(s.placement)) on[host as HostId].push(instance);
  on.a.sort();
  on.b.sort();
  return on;
}

/** The instance ids each host runs, as the guest processes' FROCTAL_HOST_ID says, sorted. */
export function byProcesses(fleetId: string): Record<HostId, string[]> {
  const on: Record<HostId, string[]> = { a: [], b: [] };
  for (const [instance, { host }] of oneEach(fleetId)) on[host as HostId].push(instance);
  on.a.sort();
  on.b.sort();
  return on;
}

/** Until `service` has exactly `n` instances, every one ready and connected, and that is its target. */
export function allReady(m: () => Manager, name: string, n: number, timeoutMs = 30_000): Promise<HostsStatus> {
  return eventually(
    async () => {
      const s = await m().status();
      const svc = service(s, name);
      const ready = svc.instances.filter((i) => i.phase === "ready" && i.connected);
      return svc.target === n && svc.instances.length === n && ready.length === n ? s : undefined;
    },
    `${name} to have ${n} ready, connected instances`,
    timeoutMs,
  );
}

/** The lb's address once it is ready and serves (it answers 503 until its first backend set is committed). */
export async function lbServing(m: () => Manager): Promise<string> {
  const lbUrl = await eventually(async () => {
    const ready = service(await m().status(), "lb").instances.find((i) => i.phase === "ready");
    return typeof ready?.endpoint === "string" ? ready.endpoint : undefined;
  }, "the lb guest to be ready");
  await eventually(async () => ((await fetch(`${lbUrl}/?work=1`)).status === 200 ? true : undefined), "a first 200");
  return lbUrl;
}
