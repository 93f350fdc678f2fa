/**
 * What a test of real VM guests needs: a libvirtd of its own
 * (./private-libvirtd.ts), the example VM guest's image (tools/guest-image,
 * cached), and a folder of this run's, where the domains' channel sockets and
 * consoles go, by which this run's domains are told from any other's.
 * `stop()` destroys what the run left, stops the daemon, removes the folder.
 */
import { execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { buildImage, DEFAULT_CACHE_DIR } from "@froctal/guest-image";
import { root } from "./fleet.js";
import { startPrivateLibvirtd } from "./private-libvirtd.js";

const run = promisify(execFile);

export interface VmRun {
  /** The private libvirtd's URI. */
  readonly uri: string;
  /** This run's folder (FROCTAL_VM_RUN_DIR). */
  readonly work: string;
  /** The folder with vmlinuz and initrd.img (FROCTAL_GUEST_IMAGE). */
  readonly imageDir: string;
  /** The `vms` example's environment on this run: its image, folder and libvirtd, `replicas` guests, and `more`. */
  env(replicas: number, more?: Readonly<Record<string, string>>): Record<string, string>;
  /**
   * `froctal host --id vmhost --driver-from apps/examples/vms` for the manager at `managerUrl`, whose state is in
   * `stateDir` (its credential is made there), with `env` and more flags; `stop()` ends it (SIGTERM).
   */
  startHost(
    managerUrl: string,
    stateDir: string,
    env: Readonly<Record<string, string>>,
    args?: readonly string[],
  ): Promise<{ readonly logs: string[]; stop(): Promise<void> }>;
  virsh(...args: string[]): Promise<string>;
  /** The domains whose channel sockets live in this run's folder, sorted. */
  domains(): Promise<string[]>;
  stop(): Promise<void>;
}

export async function startVmRun(prefix: string): Promise<VmRun> {
  const libvirt = await startPrivateLibvirtd();
  const work = mkdtempSync(join(tmpdir(), prefix));
  const virsh = async (...args: string[]) =>
    (await run("virsh", ["-c", libvirt.uri, ...args], { timeout: 30_000 })).stdout;
  const domains = async () => {
    const names = (await virsh("list", "--name")).split("\n").filter((n) => n.trim() !== "");
    const ours: string[] = [];
    for (const name of names) if ((await virsh("dumpxml", name)).includes(work)) ours.push(name);
    return ours.sort();
  };
  try {
    const image = await buildImage({
      app: join(root, "apps/examples/vm-guest/src/main.ts"),
      outDir: join(DEFAULT_CACHE_DIR, "images", "example-vm-guest"),
    });
    const imageDir = join(image.kernel, "..");
    return {
      uri: libvirt.uri,
      work,
      imageDir,
      env: (replicas, more = {}) => ({
        FROCTAL_GUEST_IMAGE: imageDir,
        VM_REPLICAS: String(replicas),
        FROCTAL_VM_RUN_DIR: work,
        FROCTAL_LIBVIRT_URI: libvirt.uri,
        ...more,
      }),
      async startHost(managerUrl, stateDir, env, args = []) {
        const module = join(root, "apps/examples/vms");
        const bin = join(root, "apps/froctal/dist/main.js");
        const credential = await run(process.execPath, [bin, "credential", module, "vmhost", "--state-dir", stateDir]);
        const credentialFile = join(work, "vmhost.cred");
        writeFileSync(credentialFile, credential.stdout);
        const host = spawn(
          process.execPath,
          [
            ...[bin, "host", "--manager", managerUrl, "--id", "vmhost", "--credential-file", credentialFile],
            ...["--state-dir", join(work, "vmhost"), "--driver-from", module, ...args],
          ],
          { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ...env } },
        );
        const logs: string[] = [];
        host.stdout.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
        host.stderr.on("data", (chunk: Buffer) => logs.push(chunk.toString()));
        const exited = new Promise((resolve) => host.once("exit", resolve));
        return {
          logs,
          async stop() {
            host.kill("SIGTERM");
            await exited;
          },
        };
      },
      virsh,
      domains,
      async stop() {
        try {
          // Whatever the run left on the hypervisor goes, even after a failure (stopping the daemon would destroy it too).
          for (const name of await domains().catch(() => [])) await virsh("destroy", name).catch(() => undefined);
        } finally {
          await libvirt.stop();
          rmSync(work, { recursive: true, force: true });
        }
      },
    };
  } catch (error) {
    await libvirt.stop();
    rmSync(work, { recursive: true, force: true });
    throw error;
  }
}
