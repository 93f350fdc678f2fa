import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { type DeviceChanges, type DeviceDir, deviceDirFromEnv, watchDeviceDir } from "./device-dir.js";

let root = "";
let watcher: DeviceDir | undefined;
afterEach(() => {
  watcher?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

function start(dir: string, seed = {}) {
  const seen: { added: string[]; changed: string[]; removed: string[] }[] = [];
  const problems: string[] = [];
  watcher = watchDeviceDir({
    dir,
    seed,
    reserved: ["refuse"],
    onChange: (c: DeviceChanges) =>
      seen.push({ added: [...c.added.keys()], changed: [...c.changed.keys()], removed: [...c.removed] }),
    onProblem: (s) => problems.push(s),
  });
  return { seen, problems };
}

const until = async (ok: () => boolean) => {
  for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
  expect(ok()).toBe(true);
};

describe("watchDeviceDir", () => {
  it("seeds a new directory and reports its files as devices", () => {
    root = mkdtempSync(join(tmpdir(), "device-dir-"));
    const { seen } = start(join(root, "guest-1"), { eth0: { speed_mbps: 1000 } });
    expect(seen).toEqual([{ added: ["eth0"], changed: [], removed: [] }]);
    expect(watcher!.devices.get("eth0")).toEqual({ speed_mbps: 1000 });
  });

  it("reports files created, changed and deleted; ignores control files and keeps a bad file's last contents", async () => {
    root = mkdtempSync(join(tmpdir(), "device-dir-"));
    const { seen, problems } = start(root, { eth0: { speed_mbps: 1 } }); // the directory exists: no seed
    expect(seen).toEqual([]);
    writeFileSync(join(root, "eth1.json"), '{"address":"10.1.0.1/24"}');
    writeFileSync(join(root, "refuse.json"), '["10.1.0.0/24"]');
    await until(() => seen.length === 1);
    writeFileSync(join(root, "eth1.json"), "{not json");
    await until(() => problems.length === 1);
    expect(watcher!.devices.get("eth1")).toEqual({ address: "10.1.0.1/24" });
    writeFileSync(join(root, "eth1.json"), '{"address":"10.1.0.2/24"}');
    await until(() => seen.length === 2);
    rmSync(join(root, "eth1.json"));
    await until(() => seen.length === 3);
    expect(seen).toEqual([
      { added: ["eth1"], changed: [], removed: [] },
      { added: [], changed: ["eth1"], removed: [] },
      { added: [], changed: [], removed: ["eth1"] },
    ]);
  });

  it("takes the directory's removal as every device removed, and notices when it comes back", async () => {
    root = mkdtempSync(join(tmpdir(), "device-dir-"));
    const dir = join(root, "guest-1");
    const seen: string[] = [];
    watcher = watchDeviceDir({
      dir,
      seed: { eth0: { speed_mbps: 1000 } },
      rescanMs: 20,
      onChange: (c) => seen.push(`+${[...c.added.keys()]} -${c.removed}`),
    });
    rmSync(dir, { recursive: true });
    await until(() => seen.length === 2);
    mkdirSync(dir);
    writeFileSync(join(dir, "eth1.json"), "{}");
    await until(() => seen.length === 3);
    expect(seen).toEqual(["+eth0 -", "+ -eth0", "+eth1 -"]);
  });

  it("finds its directory from the environment", () => {
    const env = { FROCTAL_DEVICE_DIR: "/d", FROCTAL_INSTANCE_ID: "router-a-1", FROCTAL_DEVICE_SEED: '{"eth0":{}}' };
    expect(deviceDirFromEnv(env)).toEqual({ dir: "/d/router-a-1", seed: { eth0: {} } });
  });
});
