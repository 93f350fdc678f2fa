import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixture, rejection } from "../test/helpers.js";
import { attachDevice, detachDevice } from "./virsh.js";

const NIC = "<interface type='network'><source network='default'/><model type='virtio'/></interface>";
const fakeVirsh = fixture("fake-virsh.sh");
let out: string;
let outDir: string;

beforeAll(() => {
  chmodSync(fakeVirsh, 0o755);
  outDir = mkdtempSync(join(tmpdir(), "froctal-virsh-test-"));
  out = join(outDir, "run");
  process.env.FAKE_VIRSH_OUT = out;
});

afterAll(() => {
  delete process.env.FAKE_VIRSH_OUT;
  rmSync(outDir, { recursive: true, force: true });
});

/** The device file the last fake virsh run was given. */
function lastDeviceFile(): string {
  return readFileSync(`${out}.args`, "utf8").trim().split("\n")[4]!;
}

describe("virsh device helpers", () => {
  it("runs `virsh -c URI attach-device DOMAIN FILE --live` on a private copy of the XML, in the C locale, and cleans up", async () => {
    await attachDevice({ uri: "qemu:///system", domain: "froctal.alpha.web-1", xml: NIC, virsh: fakeVirsh });
    const args = readFileSync(`${out}.args`, "utf8").trim().split("\n");
    expect(args).toEqual([
      "-c",
      "qemu:///system",
      "attach-device",
      "froctal.alpha.web-1",
      expect.any(String),
      "--live",
    ]);
    expect(readFileSync(`${out}.xml`, "utf8")).toBe(NIC);
    expect(readFileSync(`${out}.mode`, "utf8").trim()).toBe("-rw-------");
    expect(readFileSync(`${out}.locale`, "utf8").trim()).toBe("C");
    expect(existsSync(dirname(args[4]!))).toBe(false);
    await detachDevice({ uri: "qemu:///system", domain: "d", xml: NIC, virsh: fakeVirsh });
    expect(readFileSync(`${out}.args`, "utf8").split("\n")[2]).toBe("detach-device");
  });

  it("classifies virsh's last error line like a binding error", async () => {
    const error = await rejection(
      attachDevice({ uri: "test:///default", domain: "refuses", xml: NIC, virsh: fakeVirsh }),
    );
    expect(error).toMatchObject({ code: "FROCTAL_E_NOT_FOUND", failure: "inactive" });
    expect(error.message).toMatch(/attach-device on refuses at test:\/\/\/default failed: .*domain is not running/);
  });

  it("kills a virsh that hangs after its timeout (retryable) and still cleans up", async () => {
    const error = await rejection(
      attachDevice({ uri: "test:///default", domain: "hangs", xml: NIC, virsh: fakeVirsh, timeoutMs: 200 }),
    );
    expect(error).toMatchObject({ code: "FROCTAL_E_TIMEOUT", retryable: true });
    expect(lastDeviceFile()).toMatch(/froctal-device-/);
    expect(existsSync(dirname(lastDeviceFile()))).toBe(false);
  });

  it("says so when virsh is missing, and refuses empty XML without running it", async () => {
    const missing = await rejection(attachDevice({ uri: "x:///", domain: "d", xml: NIC, virsh: "/nonexistent/virsh" }));
    expect(missing).toMatchObject({ code: "FROCTAL_E_CONFIG" });
    expect(missing.message).toMatch(/not installed/);
    expect((await rejection(attachDevice({ uri: "x:///", domain: "d", xml: " " }))).code).toBe("FROCTAL_E_CONFIG");
  });

  it("with the real virsh: the test driver has no hot-plug (config), a missing domain is not found", async () => {
    const unsupported = await rejection(attachDevice({ uri: "test:///default", domain: "test", xml: NIC }));
    expect(unsupported).toMatchObject({ code: "FROCTAL_E_CONFIG", failure: "unsupported" });
    const missing = await rejection(detachDevice({ uri: "test:///default", domain: "nope", xml: NIC }));
    expect(missing).toMatchObject({ code: "FROCTAL_E_NOT_FOUND", failure: "gone" });
  });
});
