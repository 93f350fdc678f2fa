/**
 * A libvirtd of the test's own: tools/setup/private-libvirtd.sh as a child
 * process, with its configuration, sockets and state in one temporary
 * folder, so a test never reconfigures the machine nor touches a libvirtd
 * already running on it. The script runs until its stdin ends: stop() ends
 * it, and so does the death of this process (the pipe closes), so the daemon
 * and its QEMU guests never outlive the test run.
 */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { root } from "./fleet.js";

export interface PrivateLibvirtd {
  /** `qemu:///system?socket=<dir>/sock/libvirt-sock`: for virsh -c, @unraid/libvirt and FROCTAL_LIBVIRT_URI. */
  readonly uri: string;
  /** The folder holding all of its state; gone once stop() resolves. */
  readonly dir: string;
  /** Destroys the domains left on it, stops it and removes its folder; resolves when that is done. */
  stop(): Promise<void>;
}

const script = join(root, "tools/setup/private-libvirtd.sh");

export function startPrivateLibvirtd(timeoutMs = 60_000): Promise<PrivateLibvirtd> {
  const child = spawn("sh", [script], { stdio: ["pipe", "pipe", "pipe"] });
  // Ending stdin is how it is stopped; if it has already gone, that write's EPIPE is of no interest.
  child.stdin!.on("error", () => undefined);
  const said: string[] = [];
  createInterface({ input: child.stderr! }).on("line", (l) => said.push(l));
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  const stop = async (): Promise<void> => {
    child.stdin!.end();
    const timer = setTimeout(() => child.kill("SIGTERM"), 30_000);
    const code = await exited;
    clearTimeout(timer);
    if (code !== 0) throw new Error(`the private libvirtd ended with ${code}:\n${said.join("\n")}`);
  };
  return new Promise<PrivateLibvirtd>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGTERM");
      reject(new Error(`the private libvirtd did not answer within ${timeoutMs} ms:\n${said.join("\n")}`));
    }, timeoutMs);
    createInterface({ input: child.stdout! }).once("line", (uri) => {
      clearTimeout(timer);
      const socket = new URL(uri).searchParams.get("socket") ?? "";
      resolve({ uri, dir: join(socket, "../.."), stop });
    });
    child.once("error", (cause) => {
      clearTimeout(timer);
      reject(cause);
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the private libvirtd exited with ${code} before it answered:\n${said.join("\n")}`));
    });
  });
}
