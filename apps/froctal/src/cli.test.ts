/** The CLI's boundaries, run as a user would: bad flags and files get a code and a sentence, never a stack trace. */
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, test } from "vitest";

const bin = resolve(fileURLToPath(import.meta.url), "../../dist/main.js");

function froctal(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe("froctal CLI", () => {
  test("--help lists the commands", async () => {
    const r = await froctal("--help");
    expect(r.code).toBe(0);
    for (const command of ["up", "status", "demo"]) expect(r.stdout).toContain(command);
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
      `import { defineFleet } from ${JSON.stringify(resolve(bin, "../../../../packages/manager/dist/index.js"))};
export default defineFleet({ name: "Bad Name", services: { web: { image: "", replicas: -1 } } });\n`,
    );
    const r = await froctal("up", join(dir, "fleet.mjs"), "--port", "0");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("FROCTAL_E_CONFIG");
    expect(r.stderr).toContain("fleet name");
    expect(r.stderr).toContain("image must be a non-empty string");
  });

  test("a bad port is refused by the parser", async () => {
    const r = await froctal("up", "x", "--port", "99999");
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("a port is a whole number from 0 to 65535");
  });

  test("status with no manager running says where it looked", async () => {
    const r = await froctal("status", "--url", "http://127.0.0.1:9");
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("FROCTAL_E_TRANSPORT: no manager answered at http://127.0.0.1:9");
  });
});
