import { type ExecFileException, execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FroctalError } from "@froctal/protocol";
import { LibvirtCallError, libvirtError } from "./errors.js";

/**
 * Device hot-plug through the official client, because the binding has no
 * virDomainAttachDeviceFlags. One virsh run costs ~35 ms, which is fine for
 * something as rare as a hot-plug, and virsh speaks every libvirt transport.
 */
export interface DeviceChange {
  /** The host's libvirt URI. */
  readonly uri: string;
  /** The domain's name, UUID or id. */
  readonly domain: string;
  /** One device element: `<interface type='network'>...</interface>`. */
  readonly xml: string;
  /** The virsh binary. Default "virsh" (on PATH). */
  readonly virsh?: string;
  /** Longest the run may take, ms; then virsh is killed. Default 30000. */
  readonly timeoutMs?: number;
}

/** Hot-plugs a device into a running domain (`virsh attach-device --live`). */
export function attachDevice(change: DeviceChange): Promise<void> {
  return runVirsh("attach-device", change);
}

/** Hot-unplugs a device from a running domain (`virsh detach-device --live`); the guest may take a while to let go. */
export function detachDevice(change: DeviceChange): Promise<void> {
  return runVirsh("detach-device", change);
}

/** The command line, for tests and logs: `-c URI <verb> DOMAIN FILE --live`. */
export function virshArgs(
  verb: "attach-device" | "detach-device",
  uri: string,
  domain: string,
  file: string,
): string[] {
  // --live only: froctal's domains are transient, so there is no persistent config to change.
  return ["-c", uri, verb, domain, file, "--live"];
}

async function runVirsh(verb: "attach-device" | "detach-device", change: DeviceChange): Promise<void> {
  const virsh = change.virsh ?? "virsh";
  const timeoutMs = change.timeoutMs ?? 30_000;
  const doing = `${verb} on ${change.domain} at ${change.uri}`;
  if (change.xml.trim() === "") throw new FroctalError("FROCTAL_E_CONFIG", `${doing}: the device XML is empty`);
  // virsh reads the device from a file; a private directory keeps it from other users.
  const dir = await mkdtemp(join(tmpdir(), "froctal-device-"));
  try {
    const file = join(dir, "device.xml");
    await writeFile(file, change.xml, { mode: 0o600 });
    await new Promise<void>((resolve, reject) => {
      execFile(
        virsh,
        virshArgs(verb, change.uri, change.domain, file),
        // C locale: libvirt's messages are then the English ones errors.ts classifies.
        { timeout: timeoutMs, killSignal: "SIGKILL", env: { ...process.env, LC_ALL: "C" }, maxBuffer: 1024 * 1024 },
        (error, _stdout, stderr) => {
          if (error === null) return resolve();
          reject(virshError(error, String(stderr), doing, virsh, timeoutMs));
        },
      );
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function virshError(
  error: ExecFileException,
  stderr: string,
  doing: string,
  virsh: string,
  timeoutMs: number,
): FroctalError {
  if (error.code === "ENOENT") {
    return new FroctalError("FROCTAL_E_CONFIG", `${doing}: ${virsh} is not installed (Debian: libvirt-clients)`, {
      cause: error,
    });
  }
  if (error.killed === true) return new LibvirtCallError("stalled", `${doing} took more than ${timeoutMs} ms`, error);
  // virsh says "error: Failed to attach device from F" first, then libvirt's own reason.
  const reasons = stderr
    .split("\n")
    .map((line) => line.replace(/^error:\s*/, "").trim())
    .filter((line) => line !== "");
  return libvirtError(new Error(reasons.at(-1) ?? error.message), doing);
}
