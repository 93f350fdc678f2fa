/**
 * Command guests (a service's `command` instead of an image): any executable,
 * run as given, on real child processes, with the env, output, stop and
 * lifeline of an image guest (the lifeline itself: test/lifeline.test.ts).
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Driver } from "@froctal/manager";
import { afterEach, describe, expect, it, vi } from "vitest";
import {
  commandSpec,
  driverWithLog,
  fixture,
  fixturesDir,
  groupOf,
  isAlive,
  pidOf,
  record,
  rejection,
} from "../test/helpers.js";

const open: Driver[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((driver) => driver.close()));
});

function withLog(imageRoot?: string) {
  const { driver, lines } = driverWithLog(open, imageRoot === undefined ? {} : { imageRoot });
  return { driver, lines, ...record(driver) };
}

/** What env.mjs printed: its env and arguments. */
const seen = (line: string | undefined) =>
  JSON.parse(line ?? "null") as { env: Record<string, string>; args: string[] };

/** The guest's PATH in these tests: node, then the usual places. */
const PATH = `${dirname(process.execPath)}:/usr/bin:/bin`;

describe("process driver: commands", () => {
  it("runs a command as given: every argument exactly, no shell, the same minimal env as an image", async () => {
    process.env.FROCTAL_TEST_LEAK = "manager only";
    try {
      const { driver, lines, of } = withLog();
      const args = ["a b", "", "$HOME", "*", "it's", '"quoted"', "line\nbreak", "--", "-c"];
      const spec = commandSpec([process.execPath, fixture("env.mjs"), ...args], {
        env: { FROCTAL_INSTANCE_ID: "i-1", FROCTAL_TOKEN: "t0ken", FROCTAL_MANAGER_URL: "ws://m/agent", PATH },
      });
      await driver.start(spec);
      await vi.waitFor(() => expect(lines).toHaveLength(1));
      const { env, args: got } = seen(lines[0]?.line);
      expect(got).toEqual(args);
      expect(env.FROCTAL_INSTANCE_ID).toBe("i-1");
      expect(env.FROCTAL_TOKEN).toBe("t0ken");
      expect(env.FROCTAL_MANAGER_URL).toBe("ws://m/agent");
      expect(env.PATH).toBe(PATH);
      expect(env.FROCTAL_TEST_LEAK).toBeUndefined();
      expect(env.NODE_OPTIONS).toBeUndefined();
      // The lifeline is the watcher's, not the command's.
      expect(env.FROCTAL_LIFELINE).toBeUndefined();
      expect(of(spec.instanceId)[0]?.detail).toBe(`pid ${pidOf(of(spec.instanceId)[0])} runs ${process.execPath}`);
    } finally {
      delete process.env.FROCTAL_TEST_LEAK;
    }
  });

  it("runs a shell script by its shebang, relative to imageRoot, and stops it with its group, watcher included", async () => {
    const { driver, lines, of } = withLog(fixturesDir);
    const spec = commandSpec(["./env.sh", "x y"], { env: { PATH } });
    await driver.start(spec);
    await vi.waitFor(() => expect(lines).toHaveLength(1));
    expect(seen(lines[0]?.line).args).toEqual(["from-script", "x y"]);
    const pid = pidOf(of(spec.instanceId)[0]);
    expect(of(spec.instanceId)[0]?.detail).toBe(`pid ${pid} runs ${fixture("env.sh")}`);
    // The guest (the script, exec'd into node) and its lifeline watcher.
    expect(groupOf(pid)).toHaveLength(2);
    await driver.stop(spec.instanceId, { graceMs: 5000 });
    expect(of(spec.instanceId)[1]).toEqual({
      kind: "exited",
      instanceId: spec.instanceId,
      requested: true,
      code: null,
      detail: "stopped on request: killed by SIGTERM",
    });
    expect(isAlive(pid)).toBe(false);
    await vi.waitFor(() => expect(groupOf(pid)).toEqual([]));
  });

  it("looks a bare name up on the guest's PATH, and leaves nothing behind when the guest exits on its own", async () => {
    const { driver, of } = withLog();
    const exiting = commandSpec(["node", fixture("exit3.mjs")], { env: { PATH } });
    await driver.start(exiting);
    await vi.waitFor(() => expect(of(exiting.instanceId)).toHaveLength(2));
    const pid = pidOf(of(exiting.instanceId)[0]);
    expect(of(exiting.instanceId)[0]?.detail).toBe(`pid ${pid} runs ${process.execPath}`);
    expect(of(exiting.instanceId)[1]).toMatchObject({ kind: "exited", requested: false, code: 3 });
    await vi.waitFor(() => expect(groupOf(pid)).toEqual([]));
    const script = commandSpec(["env.sh"], { env: { PATH: `${PATH}:${fixturesDir}` } });
    await driver.start(script);
    expect(of(script.instanceId)[0]?.detail).toMatch(new RegExp(`runs ${fixture("env.sh")}$`));
  });

  it("refuses a missing, non-executable or unfound command with FROCTAL_E_CONFIG naming it, and reports nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "froctal-command-"));
    try {
      const notExecutable = join(dir, "guest.sh");
      await writeFile(notExecutable, "#!/bin/sh\necho never\n");
      await chmod(notExecutable, 0o644);
      const { driver, events } = withLog(dir);
      const refusal = async (command: string[], env: Record<string, string> = { PATH }) => {
        const spec = commandSpec(command, { env });
        const error = await rejection(driver.start(spec));
        expect(error.code).toBe("FROCTAL_E_CONFIG");
        expect(error.retryable).toBe(false);
        return error.message.replace(spec.instanceId, "ID");
      };
      expect(await refusal([join(dir, "missing"), "--flag"])).toBe(
        `FROCTAL_E_CONFIG: the command ${join(dir, "missing")} of instance ID does not exist`,
      );
      expect(await refusal(["./guest.sh"])).toBe(
        `FROCTAL_E_CONFIG: the command ${notExecutable} of instance ID is not executable (EACCES)`,
      );
      expect(await refusal([dir])).toBe(`FROCTAL_E_CONFIG: the command ${dir} of instance ID is not a file`);
      expect(await refusal(["no-such-guest"], { PATH: `/nowhere:${dir}` })).toBe(
        `FROCTAL_E_CONFIG: the command no-such-guest of instance ID is not an executable file on the guest's PATH (/nowhere:${dir})`,
      );
      // A file on PATH that is not executable is passed over, as execvp does.
      expect(await refusal(["guest.sh"], { PATH: dir })).toMatch(/the command guest\.sh of instance ID is not an/);
      expect(await refusal([""])).toBe(
        "FROCTAL_E_CONFIG: instance ID has an empty command; the process driver needs an executable to run",
      );
      expect(events).toEqual([]);
      // Nothing was left behind: once executable, the same command starts.
      await chmod(notExecutable, 0o755);
      await driver.start(commandSpec(["./guest.sh"], { env: { PATH } }));
      expect(events.map((e) => e.kind)).toEqual(["started"]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
