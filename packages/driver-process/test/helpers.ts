import { readdirSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Driver, DriverEvent, LaunchSpec } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import { expect } from "vitest";
import type { LogStream, ProcessDriverOptions } from "../src/options.js";
import { createProcessDriver } from "../src/process-driver.js";

export const fixturesDir = fileURLToPath(new URL("./fixtures/", import.meta.url));

export function fixture(name: string): string {
  return fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
}

let next = 0;

/** The fleet every spec here belongs to unless a test says otherwise. */
export const TEST_FLEET = { name: "test", id: "7e577e577e577e577e577e577e577e57" } as const;

type ImageSpec = Extract<LaunchSpec, { readonly image: string }>;
type CommandSpec = Extract<LaunchSpec, { readonly command: readonly string[] }>;

/** A launch spec for one of the fixture guests, with a fresh instance id. */
export function specFor(name: string, extra: Partial<ImageSpec> = {}): ImageSpec {
  next += 1;
  return {
    instanceId: `${name.replace(/\.mjs$/, "")}-${process.pid}-${next}`,
    fleet: TEST_FLEET.name,
    fleetId: TEST_FLEET.id,
    service: name,
    image: fixture(name),
    env: {},
    ...extra,
  };
}

/** A launch spec for a command (executable and arguments), with a fresh instance id. */
export function commandSpec(command: readonly string[], extra: Partial<CommandSpec> = {}): CommandSpec {
  next += 1;
  return {
    instanceId: `command-${process.pid}-${next}`,
    fleet: TEST_FLEET.name,
    fleetId: TEST_FLEET.id,
    service: "command",
    command,
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

/** The live processes of process group `pgid`, the group leader included. */
export function groupOf(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid pgrp ...": the fields after the last parenthesis.
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") members.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return members;
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

export interface LogLine {
  readonly instanceId: string;
  readonly stream: LogStream;
  readonly line: string;
}

/** A driver whose guests' lines are kept; it joins `open`, which the test file closes after each test. */
export function driverWithLog(
  open: Driver[],
  options: ProcessDriverOptions = {},
): { driver: Driver; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const driver = createProcessDriver({
    log: (instanceId, stream, line) => lines.push({ instanceId, stream, line }),
    closeGraceMs: 100,
    ...options,
  });
  open.push(driver);
  return { driver, lines };
}

/** The FroctalError a promise rejects with (the test fails if it resolves or rejects with anything else). */
export async function rejection(promise: Promise<unknown>): Promise<FroctalError> {
  const error = await promise.then(
    () => undefined,
    (cause: unknown) => cause,
  );
  expect(error).toBeInstanceOf(FroctalError);
  return error as FroctalError;
}
