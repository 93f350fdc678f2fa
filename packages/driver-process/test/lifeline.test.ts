import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { guestCommand } from "../src/guest-command.js";
import { commandSpec, fixture, groupOf, isAlive, specFor } from "./helpers.js";

let dir: string;
const spawned: ChildProcess[] = [];
const guests: number[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "froctal-lifeline-"));
});

afterEach(async () => {
  for (const child of spawned.splice(0)) child.kill("SIGKILL");
  for (const pid of guests.splice(0)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

/**
 * Starts a guest under a stand-in manager; resolves with both once the guest
 * runs. `asCommand`: the fixture runs as a command (`node <fixture>`, no
 * preload), so the lifeline watcher is what must make it die.
 */
async function guestOfFakeManager(name: string, orphanGraceMs: number, asCommand = false) {
  const spec = asCommand ? commandSpec([process.execPath, fixture(name)]) : specFor(name);
  const command = guestCommand(spec, asCommand ? process.execPath : fixture(name), {
    execPath: process.execPath,
    inheritEnv: ["PATH"],
    orphanGraceMs,
  });
  const output = join(dir, "guest.log");
  const manager = spawn(process.execPath, [fixture("fake-manager.mjs"), JSON.stringify(command), output], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  spawned.push(manager);
  const pid = await new Promise<number>((resolve, reject) => {
    manager.stdout?.once("data", (chunk: Buffer) => resolve(Number(chunk.toString().trim())));
    manager.once("exit", () => reject(new Error("the fake manager exited early")));
  });
  guests.push(pid);
  const printed = () => readFile(output, "utf8");
  await vi.waitFor(async () => expect(await printed()).toContain("ready"));
  return { manager, pid, printed };
}

describe("lifeline: guests die with their manager", () => {
  it("a guest gets SIGTERM when its manager is SIGKILLed", async () => {
    const { manager, pid, printed } = await guestOfFakeManager("graceful.mjs", 5000);
    expect(isAlive(pid)).toBe(true);
    manager.kill("SIGKILL");
    await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 3000 });
    expect(await printed()).toContain("stopping");
  });

  it("a guest that ignores SIGTERM is SIGKILLed after the orphan grace period", async () => {
    const { manager, pid, printed } = await guestOfFakeManager("stubborn.mjs", 500);
    manager.kill("SIGKILL");
    await vi.waitFor(async () => expect(await printed()).toContain("ignoring SIGTERM"), { timeout: 3000 });
    const sawTerm = performance.now();
    await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 3000 });
    expect(performance.now() - sawTerm).toBeGreaterThan(200);
  });

  it("a command guest gets SIGTERM when its manager is SIGKILLed, and its watcher goes with it", async () => {
    const { manager, pid, printed } = await guestOfFakeManager("graceful.mjs", 5000, true);
    expect(groupOf(pid)).toHaveLength(2);
    manager.kill("SIGKILL");
    await vi.waitFor(() => expect(isAlive(pid)).toBe(false), { timeout: 3000 });
    expect(await printed()).toContain("stopping");
    // Within a second of the guest's exit, not after the 5 s grace, the watcher SIGKILLs what is left, itself included.
    await vi.waitFor(() => expect(groupOf(pid)).toEqual([]), { timeout: 2500 });
  });

  it("a command guest that ignores SIGTERM is SIGKILLed after the orphan grace period, in whole seconds", async () => {
    const { manager, pid, printed } = await guestOfFakeManager("stubborn.mjs", 500, true);
    manager.kill("SIGKILL");
    await vi.waitFor(async () => expect(await printed()).toContain("ignoring SIGTERM"), { timeout: 3000 });
    const sawTerm = performance.now();
    await vi.waitFor(() => expect(groupOf(pid)).toEqual([]), { timeout: 3000 });
    expect(isAlive(pid)).toBe(false);
    expect(performance.now() - sawTerm).toBeGreaterThan(700);
  });
});
