import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { afterEach, expect, it } from "vitest";
import { testAgent } from "./agents.js";
import { appEvents, Cleanup, socketPath, startManager, waitFor } from "./harness.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

// python3 makes the pseudo-terminal; without it this test fails rather than skips (setup installs it).
const python = spawnSync("python3", ["-c", "import pty"]).status === 0;

/** A pseudo-terminal bridged to the manager's unix socket: a real character device for the agent to open. */
async function characterDevice(managerPath: string): Promise<{ path: string; close(): void }> {
  const bridge: ChildProcess = spawn(
    "python3",
    [fileURLToPath(new URL("pty-bridge.py", import.meta.url)), managerPath],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const [line] = (await once(bridge.stdout!, "data")) as [Buffer];
  return { path: line.toString().trim(), close: () => bridge.kill() };
}

it("speaks over a character device (virtio-serial style), with no token", async () => {
  expect(python, "python3 with the pty module is needed: run sh tools/setup/ensure.sh --test").toBe(true);
  const path = socketPath();
  const m = cleanup.add(await startManager("unix", { path, channelInstanceId: "web-1" }));
  const device = cleanup.add(await characterDevice(path));
  expect(device.path).toMatch(/^\/dev\//);
  const agent = testAgent(device.path, { token: "" });
  await agent.connected;
  agent.gauge("load", 0.5);
  for (let i = 1; i <= 50; i++) agent.event("tick", i);
  await expect(agent.close()).resolves.toEqual({ unacked: 0 });
  expect(appEvents(m.ingest).map(([seq]) => seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(m.ingest.metrics("web-1").get("load")?.value).toBe(0.5);
  await waitFor("hello", () => m.ingest.hellos.get("web-1")?.token === "");
});
