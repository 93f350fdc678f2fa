/**
 * A guest that is not a Node module, end to end: the froctal binary runs the
 * shell-guest example, whose service gives a `command` (a #!/bin/sh script and
 * its arguments) instead of an image. The script gets the environment every
 * guest gets, execs the agent program through node with its arguments, and
 * the guest registers and reaches ready like any other. Its lifeline watcher
 * makes it die with its manager, as image guests do.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, test } from "vitest";
import { eventually, guestLines, guestsOf, root, upFleet } from "./fleet.js";

const FLEET = "apps/examples/shell-guest";
const script = join(root, FLEET, "guest.sh");
const agentProgram = join(root, FLEET, "dist/agent.js");

/** The live processes of process group `pgid`. */
function groupOf(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
      const [state, , pgrp] = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(pgrp) === pgid && state !== "Z") members.push(Number(entry));
    } catch {}
  }
  return members;
}

const argvOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "latin1").split("\0").slice(0, -1);

/** Starts the fleet and waits for both echo guests to be ready; returns their pids. */
async function twoReadyGuests(f: Awaited<ReturnType<typeof upFleet>>): Promise<number[]> {
  const status = await eventually(async () => {
    const s = await f.status();
    const instances = s.services.find((x) => x.name === "echo")?.instances ?? [];
    return instances.length === 2 && instances.every((i) => i.phase === "ready") ? s : undefined;
  }, "two ready echo guests");
  const instances = status.services.find((x) => x.name === "echo")!.instances;
  expect(instances.map((i) => [i.id, i.facts.argv])).toEqual([
    ["echo-1", { args: ["--greeting", "hello, world"] }],
    ["echo-2", { args: ["--greeting", "hello, world"] }],
  ]);
  const ws = f.url.replace(/^http/, "ws");
  for (const id of ["echo-1", "echo-2"]) {
    expect(guestLines(f, id)).toEqual([
      `shell guest ${id}: 2 arguments, manager ${ws}/agent, token given`,
      `agent ${id} runs with ["--greeting","hello, world"]`,
    ]);
  }
  const pids = guestsOf(f.url);
  expect(pids).toHaveLength(2);
  for (const pid of pids) {
    // The script exec'd node in its own process, arguments untouched; beside it, only its lifeline watcher.
    expect(argvOf(pid).slice(1)).toEqual([agentProgram, "--greeting", "hello, world"]);
    const others = groupOf(pid).filter((p) => p !== pid);
    expect(others).toHaveLength(1);
    expect(argvOf(others[0]!)).toContain("froctal-lifeline");
  }
  return pids;
}

test("a shell-script guest registers, reaches ready with its arguments, and stops with the fleet", async () => {
  expect(readFileSync(script, "latin1").startsWith("#!/bin/sh\n")).toBe(true);
  const f = await upFleet(FLEET);
  let pids: number[] = [];
  try {
    pids = await twoReadyGuests(f);
  } finally {
    expect(await f.stop()).toBe(0);
  }
  expect(guestsOf(f.url)).toEqual([]);
  for (const pid of pids)
    await eventually(async () => (groupOf(pid).length === 0 ? true : undefined), "no process left");
});

test("shell-script guests die with a manager killed by SIGKILL, through their lifeline watchers", async () => {
  const f = await upFleet(FLEET);
  let pids: number[] = [];
  try {
    pids = await twoReadyGuests(f);
    f.process.kill("SIGKILL");
    // SIGTERM at once; the agent program exits on it, and the watcher SIGKILLs what is left within a second.
    for (const pid of pids) {
      await eventually(
        async () => (groupOf(pid).length === 0 ? true : undefined),
        `guest ${pid} and its watcher gone`,
        10_000,
      );
    }
    expect(guestsOf(f.url)).toEqual([]);
  } finally {
    await f.stop();
  }
});
