import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { FleetState, InstanceRecord } from "@froctal/manager";
import { FroctalError } from "@froctal/protocol";
import { expect } from "vitest";

const made: string[] = [];

/** A fresh directory under the system's temp dir; removeTempDirs() deletes them all. */
export async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "froctal-state-"));
  made.push(dir);
  return dir;
}

export async function removeTempDirs(): Promise<void> {
  await Promise.all(made.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
}

export function record(id: string, overrides: Partial<InstanceRecord> = {}): InstanceRecord {
  return {
    id,
    service: "web",
    ordinal: 0,
    token: `token-of-${id}`,
    phase: "starting",
    generation: 0,
    configJson: "",
    ...overrides,
  };
}

/** The FroctalError `run` throws; fails the test if it throws something else or nothing. */
export function thrown(run: () => unknown): FroctalError {
  let error: unknown;
  try {
    run();
  } catch (cause) {
    error = cause;
  }
  expect(error).toBeInstanceOf(FroctalError);
  return error as FroctalError;
}

/** A fleet's state without its id, which is random; checks the id is one (32 lowercase hex digits). */
export function contentOf(state: FleetState): Omit<FleetState, "fleetId" | "hostSecret" | "hosts"> {
  const { fleetId, hostSecret, hosts, ...content } = state;
  expect(fleetId).toMatch(/^[0-9a-f]{32}$/);
  expect(hostSecret).toMatch(/^[0-9a-f]{64}$/);
  expect(hosts).toEqual([]);
  return content;
}
