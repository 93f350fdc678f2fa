/**
 * The tests' own libvirtd (tools/setup/private-libvirtd.sh, which vms.test.ts
 * boots its guests on) leaves the machine as it found it: /etc/libvirt is
 * byte for byte the same, a libvirtd the machine already runs keeps running
 * with the same pid, and once stopped, its own daemon and folder are gone.
 * While it runs it answers on its own socket, through virsh and the binding,
 * with its own qemu.conf (QEMU as root, no security driver).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Hypervisor } from "@unraid/libvirt";
import { expect, test } from "vitest";
import { startPrivateLibvirtd } from "./private-libvirtd.js";

const run = promisify(execFile);

/** Every file under a folder: path -> mode and SHA-256 of its bytes. */
function snapshot(dir: string, into = new Map<string, string>()): Map<string, string> {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) snapshot(path, into.set(path, `dir ${stat.mode.toString(8)}`));
    else into.set(path, `${stat.mode.toString(8)} ${createHash("sha256").update(readFileSync(path)).digest("hex")}`);
  }
  return into;
}

/** Running libvirtd processes: pid -> command line. */
function libvirtds(): Map<number, string> {
  const found = new Map<number, string>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, "utf8").trim() !== "libvirtd") continue;
      found.set(Number(entry), readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ").trim());
    } catch {} // it ended while we looked
  }
  return found;
}

/** The machine's own: not a private daemon of this or of any other concurrent test run. */
const systems = (all: Map<number, string>) => [...all].filter(([, cmd]) => !cmd.includes("/froctal-libvirtd-"));
const ofDir = (all: Map<number, string>, dir: string) => [...all].filter(([, cmd]) => cmd.includes(`${dir}/`));

test("a private libvirtd answers on its own socket and leaves /etc/libvirt and a running libvirtd alone", async () => {
  const etc = snapshot("/etc/libvirt");
  const before = libvirtds();

  const libvirt = await startPrivateLibvirtd();
  let stopped = false;
  try {
    expect(libvirt.uri).toBe(`qemu:///system?socket=${libvirt.dir}/sock/libvirt-sock`);
    const during = libvirtds();
    expect(ofDir(during, libvirt.dir)).toHaveLength(1);
    expect(systems(during)).toEqual(systems(before));

    // Its own qemu.conf: QEMU runs as root (DAC label +0:+0) with no security driver.
    const caps = (await run("virsh", ["-c", libvirt.uri, "capabilities"], { timeout: 30_000 })).stdout;
    expect(caps).toContain("<baselabel type='kvm'>+0:+0</baselabel>");
    expect(caps).toMatch(/<secmodel>\s*<model>none<\/model>/);
    // The binding the libvirt driver uses takes the same URI; a fresh daemon has no domain.
    const hypervisor = new Hypervisor({ uri: libvirt.uri });
    await hypervisor.connectOpen();
    try {
      expect(await hypervisor.connectListAllDomains()).toEqual([]);
    } finally {
      await hypervisor.connectClose();
    }

    await libvirt.stop();
    stopped = true;
  } finally {
    if (!stopped) await libvirt.stop();
  }
  expect(existsSync(libvirt.dir)).toBe(false);
  const after = libvirtds();
  expect(ofDir(after, libvirt.dir)).toEqual([]);
  expect(systems(after)).toEqual(systems(before));
  expect(snapshot("/etc/libvirt")).toEqual(etc);
});
