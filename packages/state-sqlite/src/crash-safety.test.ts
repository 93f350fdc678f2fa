import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { FleetState, InstanceRecord } from "@froctal/manager";
import { afterEach, describe, expect, it } from "vitest";
import { type Step, stepsOf } from "../test/fixtures/crash-script.mjs";
import { removeTempDirs, tempDir } from "../test/helpers.js";
import { openSqliteState } from "./sqlite-state.js";

const writer = fileURLToPath(new URL("../test/fixtures/writer.mjs", import.meta.url));
const built = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const FLEET = "crash";
const MAX_ITERATIONS = 1_000_000;

const children: ChildProcess[] = [];

afterEach(async () => {
  // A test that failed before its kill must not leave a writer running.
  for (const child of children.splice(0))
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  await removeTempDirs();
});

/** Resolves with the first iteration count the writer prints at or past `atLeast`; rejects if it ends first. */
function progress(child: ChildProcess, atLeast: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let out = "";
    let err = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      err += chunk.toString();
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const lines = out.split("\n");
      out = lines.pop() ?? "";
      const reached = lines.map(Number).find((n) => n >= atLeast);
      if (reached !== undefined) resolve(reached);
    });
    child.on("exit", (code, signal) => reject(new Error(`the writer ended first (${code ?? signal}): ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<NodeJS.Signals | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.signalCode);
  return new Promise((resolve) => child.on("exit", (_, signal) => resolve(signal)));
}

interface Model {
  reserved: number;
  readonly instances: Map<string, InstanceRecord>;
}

function apply(model: Model, step: Step): void {
  if (step.kind === "reserve") model.reserved = Math.max(model.reserved, step.upTo);
  else if (step.kind === "put") model.instances.set(step.record.id, step.record);
  else model.instances.delete(step.id);
}

function sameState(model: Model, state: FleetState): boolean {
  if (model.reserved !== state.reservedGeneration || model.instances.size !== state.instances.length) return false;
  return state.instances.every((record) => JSON.stringify(model.instances.get(record.id)) === JSON.stringify(record));
}

/**
 * Replays the writer's steps on a model and returns the last iteration after
 * which the model equals `state`, or undefined if no prefix of the writes does.
 * Reservations only rise, so the replay stops once the model's passes the state's.
 */
function prefixOf(state: FleetState): { readonly iteration: number; readonly step: number } | undefined {
  const model: Model = { reserved: 0, instances: new Map() };
  let match: { iteration: number; step: number } | undefined = sameState(model, state)
    ? { iteration: 0, step: 0 }
    : undefined;
  for (let i = 1; i <= MAX_ITERATIONS && model.reserved <= state.reservedGeneration; i++) {
    for (const [index, step] of stepsOf(i).entries()) {
      apply(model, step);
      if (sameState(model, state)) match = { iteration: i, step: index + 1 };
    }
  }
  return match;
}

describe("crash safety", () => {
  it("a writer SIGKILLed mid-way leaves a consistent prefix of its writes, nothing it finished lost", async () => {
    expect(existsSync(built), "the writer runs the built package: run `npx tsc -b` first").toBe(true);
    // Killed at once, the writer tends to stop right at its print; the delays land it mid-iteration, mid-checkpoint.
    for (const [killAfter, delayMs] of [
      [300, 0],
      [500, 3],
      [800, 7],
      [1200, 13],
      [2000, 29],
    ] as const) {
      const dir = await tempDir();
      const child = spawn(process.execPath, [writer, dir, FLEET, String(MAX_ITERATIONS)], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      children.push(child);
      const finished = await progress(child, killAfter);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      child.kill("SIGKILL");
      expect(await exited(child)).toBe("SIGKILL");

      const store = openSqliteState({ dir });
      const state = store.load(FLEET);
      await store.close();
      const prefix = prefixOf(state);
      const seen = `reserved ${state.reservedGeneration}, ${state.instances.length} instances`;
      expect(prefix, `what the killed writer left (${seen}) is no prefix of its writes`).toBeDefined();
      expect(prefix?.iteration).toBeGreaterThanOrEqual(finished);
      expect(prefix?.iteration).toBeLessThan(MAX_ITERATIONS);
    }
  }, 30_000);
});
