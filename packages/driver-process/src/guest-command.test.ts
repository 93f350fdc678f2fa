import { existsSync } from "node:fs";
import type { LaunchSpec } from "@froctal/manager";
import { describe, expect, it } from "vitest";
import { guestCommand, keptGuestCommand, LIFELINE_ENV } from "./guest-command.js";

const spec: LaunchSpec = {
  instanceId: "web-1",
  fleet: "f",
  fleetId: "0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f",
  service: "web",
  image: "/srv/web.mjs",
  env: { FROCTAL_INSTANCE_ID: "web-1", PATH: "/guest/bin" },
  args: ["--port", "8080"],
};
const settings = { execPath: "/usr/bin/node", inheritEnv: ["PATH", "HOME", "LANG"], orphanGraceMs: 700 };
const parentEnv = { PATH: "/usr/bin", HOME: "/root", NODE_OPTIONS: "--inspect", SECRET: "s3cret" };

describe("guestCommand", () => {
  it("runs the image with Node, the lifeline preloaded, and the spec's args after it", () => {
    const command = guestCommand(spec, "/srv/web.mjs", settings, parentEnv);
    expect(command.file).toBe("/usr/bin/node");
    expect(command.args.slice(2)).toEqual(["/srv/web.mjs", "--port", "8080"]);
    expect(command.args[0]).toBe("--require");
    expect(command.args[1]).toMatch(/preload[/\\]lifeline\.cjs$/);
    expect(existsSync(command.args[1]!)).toBe(true);
  });

  it("runs a command through sh only to exec it behind its lifeline watcher, its arguments untouched", () => {
    const argv = ["./hvt", "--net:service=tap0", "a b", "$X"];
    const command = guestCommand({ ...spec, image: undefined, args: undefined, command: argv }, "/srv/hvt", settings);
    expect(command.file).toBe("/bin/sh");
    expect(command.args[0]).toBe("-c");
    expect(command.args[1]).toMatch(/froctal-lifeline/);
    expect(command.args[1]).toMatch(/\nexec "\$0" "\$@" 3<&-$/);
    expect(command.args.slice(2)).toEqual(["/srv/hvt", "--net:service=tap0", "a b", "$X"]);
    expect(command.runs).toBe("/srv/hvt");
    expect(command.env[LIFELINE_ENV]).toBe("3:700");
  });

  it("inherits only the listed variables, the spec's env winning", () => {
    const { env } = guestCommand(spec, "/srv/web.mjs", settings, parentEnv);
    expect({ ...env }).toEqual({
      PATH: "/guest/bin",
      HOME: "/root",
      FROCTAL_INSTANCE_ID: "web-1",
      [LIFELINE_ENV]: "3:700",
    });
  });

  it("passes NODE_OPTIONS only when the spec sets it", () => {
    const withOptions = { ...spec, env: { NODE_OPTIONS: "--max-old-space-size=64" } };
    expect(guestCommand(withOptions, "/srv/web.mjs", settings, parentEnv).env.NODE_OPTIONS).toBe(
      "--max-old-space-size=64",
    );
  });

  it("treats an env key named __proto__ as a plain variable", () => {
    const odd = { ...spec, env: JSON.parse('{"__proto__": "x"}') as Record<string, string> };
    const { env } = guestCommand(odd, "/srv/web.mjs", settings, parentEnv);
    expect(Object.keys(env)).toContain("__proto__");
    expect(Object.getPrototypeOf(env)).toBeNull();
  });
});

describe("keptGuestCommand", () => {
  it("runs the image with Node and nothing preloaded, with the same env and no lifeline", () => {
    const command = keptGuestCommand(spec, "/srv/web.mjs", settings, parentEnv);
    expect(command.file).toBe("/usr/bin/node");
    expect(command.args).toEqual(["/srv/web.mjs", "--port", "8080"]);
    expect({ ...command.env }).toEqual({ PATH: "/guest/bin", HOME: "/root", FROCTAL_INSTANCE_ID: "web-1" });
  });

  it("runs a command's executable itself, its arguments untouched", () => {
    const argv = ["./hvt", "--net:service=tap0", "a b", "$X"];
    const command = keptGuestCommand({ ...spec, image: undefined, command: argv }, "/srv/hvt", settings, parentEnv);
    expect(command.file).toBe("/srv/hvt");
    expect(command.args).toEqual(["--net:service=tap0", "a b", "$X"]);
    expect(command.runs).toBe("/srv/hvt");
    expect(command.env[LIFELINE_ENV]).toBeUndefined();
  });
});
