import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { initScript } from "./init-script.js";
import { qemuArgs } from "./qemu.js";

const options = {
  modules: ["virtio_ring", "virtio", "virtio_pci", "virtio_console"],
  moduleDir: "/lib/modules/froctal",
  node: "/usr/bin/node",
  app: "/app.mjs",
  defaultPort: "froctal.0",
};

describe("initScript", () => {
  it("is a shell script that loads the modules in order, then runs the app and powers off", () => {
    const script = initScript(options);
    expect(script.startsWith("#!/bin/busybox sh\n")).toBe(true);
    expect(script).toContain("for m in virtio_ring virtio virtio_pci virtio_console; do");
    expect(script).toContain("export FROCTAL_MANAGER_URL=");
    // PID 1 must never exit: the kernel would panic.
    expect(script.trimEnd().endsWith('/usr/bin/node /app.mjs\nstop "the app exited with status $?"')).toBe(true);
    expect(script).toMatch(/stop\(\) \{[^}]*poweroff -f\n\}/);
    // busybox's ash reads POSIX sh; the host's sh checks the syntax.
    const check = spawnSync("sh", ["-n"], { input: script, encoding: "utf8" });
    expect(check.stderr).toBe("");
    expect(check.status).toBe(0);
  });

  it("gives the first NIC there is at boot the address froctal.ip= names, and brings it up", () => {
    const script = initScript(options);
    expect(script).toMatch(/froctal\.ip=\*\) address=\$\{arg#\*=\} ;;/);
    expect(script).toContain('ip address add "$address" dev "$nic" && ip link set "$nic" up');
  });

  it("refuses words that would change the script's meaning", () => {
    expect(() => initScript({ ...options, defaultPort: "x; rm -rf /" })).toThrow(/not a safe word/);
  });
});

describe("qemuArgs", () => {
  it("boots the kernel directly with the instance on the command line and one named port", () => {
    const args = qemuArgs({
      kernel: "/i/vmlinuz",
      initrd: "/i/initrd.img",
      instanceId: "web-1",
      socketPath: "/run/w.sock",
    });
    expect(args.join(" ")).toContain("-kernel /i/vmlinuz -initrd /i/initrd.img");
    expect(args[args.indexOf("-append") + 1]).toBe("console=ttyS0 froctal.instance=web-1 panic=-1");
    expect(args).toContain("socket,id=ch0,path=/run/w.sock,server=on,wait=off");
    expect(args).toContain("virtserialport,bus=vser0.0,chardev=ch0,name=froctal.0");
    expect(args).toContain("-nodefaults");
  });
});
