/**
 * For the CLI's tests against a live manager: `froctal up` (the built binary,
 * a child process) on a fleet module written to a temporary folder, with
 * real guests; its URL read from its own log line.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ManagerStatus } from "@froctal/manager";

export const app = resolve(fileURLToPath(import.meta.url), "../..");
export const bin = join(app, "dist/main.js");
/** A guest that serves HTTP, reports gauges and its endpoint, and honours drain. */
export const webGuest = join(app, "../examples/web/dist/main.js");

export interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

export function froctal(args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<Ran> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { timeout: 20_000, env }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

export interface RunningFleet {
  readonly url: string;
  /** The fleet module's file and the manager's state directory, as given to `froctal up`. */
  readonly module: string;
  readonly stateDir: string;
  readonly port: number;
  readonly child: ChildProcess;
  status(): Promise<ManagerStatus>;
  /** SIGINT, as a person's Ctrl-C: the manager stops every guest, then exits. */
  stop(): Promise<void>;
}

/** Starts `froctal up` on a fleet module of this text and resolves once its HTTP API answers. */
export async function startFleet(moduleText: string, args: readonly string[] = []): Promise<RunningFleet> {
  const dir = mkdtempSync(join(tmpdir(), "froctal-observe-"));
  const file = join(dir, "fleet.mjs");
  const stateDir = join(dir, "state");
  writeFileSync(file, moduleText);
  const child = spawn(process.execPath, [bin, "up", file, "--port", "0", "--state-dir", stateDir, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = await new Promise<string>((found, failed) => {
    let out = "";
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"(http:\/\/[^"]+)"/.exec(out);
      if (match?.[1] !== undefined) {
        child.stdout.off("data", onData);
        child.stdout.resume();
        found(match[1]);
      }
    };
    child.stdout.on("data", onData);
    child.once("exit", (code) => failed(new Error(`froctal up exited (${code}) before it listened: ${stderr}`)));
  });
  return {
    url,
    module: file,
    stateDir,
    port: Number(new URL(url).port),
    child,
    async status() {
      const res = await fetch(new URL("/status", url));
      return (await res.json()) as ManagerStatus;
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGINT");
      await exited;
    },
  };
}

/** Polls (bounded) until the check passes; the last failure is the error. */
export async function eventually<T>(check: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Until every one of `service`'s `n` instances is ready and connected. */
export function allReady(fleet: RunningFleet, service: string, n: number): Promise<void> {
  return eventually(async () => {
    const svc = (await fleet.status()).services.find((s) => s.name === service);
    const ready = svc?.instances.filter((i) => i.phase === "ready" && i.connected).length;
    if (ready !== n || svc?.instances.length !== n) throw new Error(`${service}: ${ready} of ${n} ready`);
  });
}

/** The fleet of these tests: `replicas` guests of the example web service, no config (no rollouts). */
export function webFleet(name: string, replicas: number): string {
  return `export default { name: ${JSON.stringify(name)}, services: { web: { image: ${JSON.stringify(webGuest)}, replicas: ${replicas} } } };\n`;
}
