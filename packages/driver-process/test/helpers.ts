import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Driver, DriverEvent, LaunchSpec } from "@froctal/manager";

export const fixturesDir = fileURLToPath(new URL("./fixtures/", import.meta.url));

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

let next = 0;

/** A launch spec for one of the fixture guests, with a fresh instance id. */
export function specFor(name: string, extra: Partial<LaunchSpec> = {}): LaunchSpec {
  next += 1;
  return {
    instanceId: `${name.replace(/\.mjs$/, "")}-${process.pid}-${next}`,
    fleet: "test",
    service: name,
    image: fixture(name),
    env: {},
    ...extra,
  };
}

/** True while the process exists and is not a zombie waiting to be reaped by someone else. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ESRCH") return false;
    throw error;
  }
  try {
    // "pid (comm) S ...": the state follows the last parenthesis.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return true;
  }
}

/** Everything a driver reports, in order. */
export function record(driver: Driver): { events: DriverEvent[]; of(instanceId: string): DriverEvent[] } {
  const events: DriverEvent[] = [];
  driver.watch((event) => events.push(event));
  return { events, of: (instanceId) => events.filter((event) => event.instanceId === instanceId) };
}

/** The pid a "started" event names. */
export function pidOf(event: DriverEvent | undefined): number {
  const match = event?.kind === "started" ? /^pid (\d+) /.exec(event.detail) : null;
  if (match === null) throw new Error(`not a started event: ${JSON.stringify(event)}`);
  return Number(match[1]);
}
