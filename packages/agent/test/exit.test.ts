/** exitOnSignals in a real child process: the guest's cleanup runs, what it sent is delivered, and it exits 0. */
import { spawn } from "node:child_process";
import { afterEach, expect, it } from "vitest";
import { Cleanup, socketPath, startManager, TOKEN, waitFor } from "./harness.js";

const cleanup = new Cleanup();
afterEach(() => cleanup.run());

const GUEST = `
import { connect } from "@froctal/agent";
const agent = connect({ env: process.env });
agent.ready();
agent.exitOnSignals(() => { agent.event("cleaned-up"); console.log("cleanup ran"); });
console.log("up");
`;

it("on SIGTERM runs the cleanup, flushes, closes and exits 0", async () => {
  const path = socketPath();
  const m = cleanup.add(await startManager("unix", { path }));
  const child = spawn(process.execPath, ["--input-type=module", "-e", GUEST], {
    env: {
      PATH: process.env.PATH,
      FROCTAL_MANAGER_URL: `unix:${path}`,
      FROCTAL_INSTANCE_ID: "web-1",
      FROCTAL_TOKEN: TOKEN,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  await waitFor("the guest's READY", () => m.ingest.events.length === 1, 10_000);
  child.kill("SIGTERM");
  expect(await exited).toBe(0);
  expect(out).toContain("cleanup ran");
  // What the cleanup emitted was flushed before the agent closed.
  await waitFor("the cleanup's event", () => m.ingest.events.length === 2, 5_000);
});
