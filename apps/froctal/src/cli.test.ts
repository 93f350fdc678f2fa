/** The CLI's boundaries, run as a user would: bad flags and files get a code and a sentence, never a stack trace. */
import { execFile } from "node:child_process";
import {
  accessSync,
  constants,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const app = resolve(fileURLToPath(import.meta.url), "../..");
const bin = join(app, "dist/main.js");
const managerDist = join(app, "../../packages/manager/dist/index.js");

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function run(file: string, args: readonly string[]): Promise<Ran> {
  return new Promise((done) => {
    execFile(process.execPath, [file, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

const froctal = (...args: string[]) => run(bin, args);

function freePort(): Promise<number> {
  return new Promise((resolvePort) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/** Runs `froctal up` on a fleet module of this text; checks that it exits 2 having started nothing. */
async function refusedFleet(text: string): Promise<{ file: string; stderr: string }> {
  const dir = mkdtempSync(join(tmpdir(), "froctal-cli-"));
  const file = join(dir, "fleet.mjs");
  writeFileSync(file, text);
  const port = await freePort();
  const stateDir = join(dir, "state");
  const r = await froctal("up", file, "--port", String(port), "--state-dir", stateDir);
  expect(r.code).toBe(2);
  // No manager: it logs nothing, keeps no state, and nothing answers on its port.
  expect(r.stdout).toBe("");
  expect(existsSync(stateDir)).toBe(false);
  await expect(fetch(`http://127.0.0.1:${port}/healthz`)).rejects.toThrow();
  return { file, stderr: r.stderr };
}

describe("froctal CLI", () => {
  test("--help lists the commands", async () => {
    const r = await froctal("--help");
    expect(r.code).toBe(0);
    // Each command line of the help starts with two spaces and the command's name.
    const commands = r.stdout
      .split("Commands:\n")[1]!
      .split("\n")
      .map((line) => /^ {2}([a-z]+) /.exec(line)?.[1])
      .filter((name) => name !== undefined);
    expect(commands).toEqual(["up", "host", "credential", "down", "status", "events", "replay", "demo", "help"]);
  });

  test("up with a missing fleet module says so with FROCTAL_E_CONFIG", async () => {
    const r = await froctal("up", "/nonexistent/fleet.js", "--port", "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("FROCTAL_E_CONFIG: no fleet module at /nonexistent/fleet.js");
    expect(r.stderr).not.toContain("    at ");
  });

  test("up with a module that exports no fleet explains what it must export", async () => {
    const dir = mkdtempSync(join(tmpdir(), "froctal-cli-"));
    writeFileSync(join(dir, "fleet.mjs"), "export default 42;\n");
    const r = await froctal("up", join(dir, "fleet.mjs"), "--port", "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("must default-export a fleet");
  });

  test("up with an invalid fleet names every problem", async () => {
    const dir = mkdtempSync(join(tmpdir(), "froctal-cli-"));
    writeFileSync(
      join(dir, "fleet.mjs"),
      `import { defineFleet } from ${JSON.stringify(managerDist)};
export default defineFleet({ name: "Bad Name", services: { web: { image: "", replicas: -1 } } });\n`,
    );
    const r = await froctal("up", join(dir, "fleet.mjs"), "--port", "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("FROCTAL_E_CONFIG");
    expect(r.stderr).toContain("fleet name");
    expect(r.stderr).toContain("image must be a non-empty string");
  });

  test("a fleet module that skips defineFleet is checked all the same, with the same sentences", async () => {
    const bare = await refusedFleet('export default { name: "Bad Name", services: {} };\n');
    const sentence =
      'the fleet definition is invalid: fleet name "Bad Name" must match /^[a-z][a-z0-9-]{0,62}$/; a fleet needs at least one service';
    expect(bare.stderr).toBe(`froctal: FROCTAL_E_CONFIG: ${bare.file}: ${sentence}\n`);
    const declared = await refusedFleet(
      `import { defineFleet } from ${JSON.stringify(managerDist)};\nexport default defineFleet({ name: "Bad Name", services: {} });\n`,
    );
    expect(declared.stderr).toBe(`froctal: FROCTAL_E_CONFIG: ${declared.file}: ${sentence}\n`);
  });

  test("a fleet module whose services are not specs says so, and starts nothing", async () => {
    const r = await refusedFleet('export default { name: "shop", services: { web: "web.js" } };\n');
    expect(r.stderr).toBe(
      `froctal: FROCTAL_E_CONFIG: ${r.file}: the fleet definition is invalid: service "web": the spec must be an object { image, replicas, ... }\n`,
    );
  });

  test("the committed bin npm links as `froctal` runs the built CLI, or says how to build it", async () => {
    const manifest = JSON.parse(readFileSync(join(app, "package.json"), "utf8")) as { bin: { froctal: string } };
    const linked = join(app, manifest.bin.froctal);
    accessSync(linked, constants.X_OK);
    expect(readFileSync(linked, "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
    const help = await run(linked, ["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: froctal \[options\] \[command\]/);

    // A clone where the build has not run yet: the same file, with no dist/ beside it.
    const fresh = mkdtempSync(join(tmpdir(), "froctal-unbuilt-"));
    mkdirSync(join(fresh, "bin"));
    copyFileSync(linked, join(fresh, "bin/froctal.js"));
    const unbuilt = await run(join(fresh, "bin/froctal.js"), ["--help"]);
    expect(unbuilt.code).toBe(2);
    expect(unbuilt.stderr).toBe(
      `froctal: ${join(fresh, "dist/main.js")} is not built yet: run \`npm run build\` at the root of the repository first\n`,
    );
  });

  test("a bad port is refused by the parser", async () => {
    const r = await froctal("up", "x", "--port", "99999");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("a port is a whole number from 0 to 65535");
  });

  test("up on an etcd no one answers at says which endpoints, and starts nothing", async () => {
    const r = await froctal("up", join(app, "../examples/autoscale"), "--port", "0", "--state", "etcd://127.0.0.1:1");
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^froctal: FROCTAL_E_TRANSPORT: [\w.-]+ cannot campaign to lead fleet "autoscale": its campaign failed: etcd at http:\/\/127\.0\.0\.1:1 is unreachable \(/,
    );
    expect(r.stdout).not.toContain("froctal manager for fleet");
  });

  test("up refuses a --managers list with an empty entry, naming it, before it starts anything", async () => {
    const r = await froctal("up", join(app, "../examples/autoscale"), "--port", "0", "--managers", "http://a:7070,");
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      'froctal: FROCTAL_E_CONFIG: --managers is not a manager address or a list of them (entry 2 is empty): "http://a:7070,"; give http://host:port, or every manager\'s: http://m1:7070,http://m2:7070\n',
    );
    expect(r.stdout).toBe("");
  });

  test("up refuses a --network it cannot use, naming why, before it starts anything", async () => {
    const autoscale = join(app, "../examples/autoscale");
    const refusals = [
      [
        [autoscale, "--network", "vxlan:froctal0"],
        '--network "vxlan:froctal0" names no network driver froctal has (only ovs, Open vSwitch); give ovs:BRIDGE or ovs:BRIDGE,10.77.0.0/24',
      ],
      [
        [autoscale, "--network", "ovs:froctal0,10.77.0.1/24"],
        '--network "ovs:froctal0,10.77.0.1/24" has a subnet that is not an IPv4 network of /8 to /25; give ovs:BRIDGE or ovs:BRIDGE,10.77.0.0/24',
      ],
      [
        [autoscale, "--network", "ovs:a-name-far-too-long"],
        '--network "ovs:a-name-far-too-long" has a bridge name that is not 1 to 15 letters, digits, - or _; give ovs:BRIDGE or ovs:BRIDGE,10.77.0.0/24',
      ],
      [
        [autoscale, "--network", "ovs:froctal0", "--no-local-host"],
        "--network ovs: puts this process's guests on a bridge, and --no-local-host runs none here (--network hosts programs only the hosts')",
      ],
    ] as const;
    for (const [args, sentence] of refusals) {
      const r = await froctal("up", ...args, "--port", "0");
      expect([r.code, r.stderr, r.stdout]).toEqual([2, `froctal: FROCTAL_E_CONFIG: ${sentence}\n`, ""]);
    }
  });

  test("up --network names what to install, or what to start, when Open vSwitch is missing or not running", async () => {
    const fleet = join(app, "../examples/autoscale/dist/ovs.js");
    const network = ["--network", "ovs:frcli0", "--ovs-run-dir", "/nonexistent/ovs"];
    const missing = await froctal("up", fleet, "--port", "0", ...network, "--ovs-bin-dir", "/nonexistent/bin");
    expect([missing.code, missing.stderr]).toEqual([
      2,
      "froctal: FROCTAL_E_CONFIG: ovs-vsctl is not in /nonexistent/bin: install Open vSwitch (Debian's openvswitch-switch; tools/setup/ensure.sh --test unpacks it into tools/setup/.cache)\n",
    ]);
    const cache = join(app, "../../tools/setup/.cache");
    const stopped = await froctal("up", fleet, "--port", "0", ...network, "--ovs-bin-dir", cache);
    expect([stopped.code, stopped.stderr]).toEqual([
      2,
      "froctal: FROCTAL_E_TRANSPORT: ovsdb-server does not answer on /nonexistent/ovs/db.sock (ovs-vsctl: unix:/nonexistent/ovs/db.sock: database connection failed (No such file or directory)): start it (Debian: `/usr/share/openvswitch/scripts/ovs-ctl start`)\n",
    ]);
  });

  test("status with no manager running says where it looked", async () => {
    const r = await froctal("status", "--url", "http://127.0.0.1:9");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("FROCTAL_E_TRANSPORT: no manager answered at http://127.0.0.1:9");
  });
});
