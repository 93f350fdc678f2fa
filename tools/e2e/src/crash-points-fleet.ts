/**
 * The fleet the crash-point test kills its manager in: the autoscale example's
 * policy (web scaled on requests per second, drained before it stops; scale-in
 * stabilised over 1.5 s instead of 3, to keep the test short) with two lb
 * guests sharing one backend list, so a rollout is one generation with two
 * participants. The lb is the example's own, told by its configuration to take
 * PREPARE_MS to prepare: a generation stays in flight long enough for status
 * to show it and for a kill to land inside it. Plus the seeded random numbers
 * that pick the crash points, and a manager with hosts a and b.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { expect } from "vitest";
import { eventually, freePort, root } from "./fleet.js";
import {
  credentialFile,
  type HostDaemon,
  type Manager,
  type Started,
  startHost,
  startManager,
  tempDir,
  webGuest,
} from "./hosts-fleet.js";
import { HOSTS, type HostId, hostsOf } from "./hosts-status.js";

/** The example lb, built. */
const lbGuest = join(root, "apps/examples/lb/dist/main.js");

/** How long each lb takes to prepare a generation, ms (its config's prepareMs). */
export const PREPARE_MS = 500;
/** Requests per second one web instance takes (as in apps/examples/autoscale). */
export const RPS_PER_INSTANCE = 40;

/**
 * The seed of a run: FROCTAL_CRASH_SEED if set (to repeat a failure), else a
 * fresh one. Printed by the test and named in its failure messages.
 */
export function crashSeed(): number {
  const given = process.env.FROCTAL_CRASH_SEED;
  if (given !== undefined && given !== "") {
    const seed = Number(given);
    if (!Number.isSafeInteger(seed) || seed < 0)
      throw new Error(`FROCTAL_CRASH_SEED must be an integer >= 0: ${given}`);
    return seed >>> 0;
  }
  return Math.floor(Math.random() * 2 ** 32);
}

/** mulberry32: small, fast and the same on every machine; returns an integer in [min, max). */
export function seeded(seed: number): (min: number, max: number) => number {
  let a = seed >>> 0;
  return (min, max) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const unit = ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
    return min + Math.floor(unit * (max - min));
  };
}

/** Writes the fleet module into `dir`; returns its path. */
export function writeCrashFleet(dir: string, name: string): string {
  const file = join(dir, "fleet.mjs");
  writeFileSync(
    file,
    `const seen = new Set();
export default {
  name: ${JSON.stringify(name)},
  services: {
    web: {
      image: ${JSON.stringify(webGuest)},
      min: 1,
      max: 8,
      loadMetric: "inflight",
      replicas: (web) => {
        const rps = web.metric("rps").sum;
        return { replicas: Math.ceil(rps / ${RPS_PER_INSTANCE}), why: Math.round(rps) + " requests/s" };
      },
      scaleUp: { stabilizationMs: 0, cooldownMs: 1000 },
      scaleDown: { stabilizationMs: 1500, cooldownMs: 1000, maxStep: 2 },
      drainTimeoutMs: 10000,
      startTimeoutMs: 20000,
    },
    lb: {
      image: ${JSON.stringify(lbGuest)},
      replicas: 2,
      config: (fleet) => ({
        prepareMs: ${PREPARE_MS},
        backends: fleet
          .service("web")
          .ready.map((i) => i.fact("endpoint")?.url)
          .filter((url) => url !== undefined)
          .sort(),
      }),
    },
  },
  // Nothing before both hosts were up (the first guests would all land on one), then the fewest of the service.
  placement: (service, up) => {
    for (const h of up) seen.add(h.id);
    if (!${JSON.stringify(HOSTS)}.every((id) => seen.has(id))) return undefined;
    const fewest = (a, b) => a.guestsOf(service) - b.guestsOf(service) || (a.id < b.id ? -1 : 1);
    return [...up].sort(fewest)[0].id;
  },
};
`,
  );
  return file;
}

export interface CrashFleet {
  manager: Manager;
  readonly hosts: ReadonlyMap<HostId, HostDaemon>;
  readonly fleetId: string;
  /** Starts the manager again on the same port and state; resolves once it leads and is ready. */
  restartManager(): Promise<Manager>;
}

/** A manager (--no-local-host; its state in SQLite, or in etcd if given) and hosts a and b; resolves once both are up. */
export async function crashFleet(started: Started, name: string, stateUrl?: string): Promise<CrashFleet> {
  const dir = tempDir(started, "crash");
  const fleet = writeCrashFleet(dir, name);
  const stateDir = join(dir, "manager");
  const port = await freePort();
  const state = stateUrl === undefined ? {} : { stateUrl };
  const options = { fleet, port, stateDir, graceMs: 10_000, ...state };
  const credentials = new Map<HostId, string>();
  for (const id of HOSTS) credentials.set(id, await credentialFile(fleet, stateDir, id, dir, stateUrl));
  const manager = await startManager(started, options);
  const hosts = new Map(
    HOSTS.map((id) => [
      id,
      startHost(started, {
        manager: manager.url,
        id,
        credentialFile: credentials.get(id)!,
        stateDir: join(dir, `host-${id}`),
      }),
    ]),
  );
  const f: CrashFleet = {
    manager,
    hosts,
    fleetId: manager.fleetId,
    restartManager: async () => {
      f.manager = await startManager(started, options);
      expect(f.manager.fleetId).toBe(f.fleetId);
      return f.manager;
    },
  };
  await eventually(async () => {
    const s = await f.manager.status();
    return /^a up \d+,b up \d+$/.test(hostsOf(s)) ? true : undefined;
  }, "hosts a and b to be up");
  return f;
}
