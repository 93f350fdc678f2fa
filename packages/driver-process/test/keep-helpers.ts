import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DriverEvent, LaunchSpec } from "@froctal/manager";
import { expect, vi } from "vitest";
import { FileRecords } from "./file-records.mjs";
import { fixture, isAlive, pidOf } from "./helpers.js";

/** A records file and a log directory in a fresh temporary directory; `cleanup` kills what the test left running. */
export class KeepPlace {
  readonly records: FileRecords;
  readonly logDir: string;
  /** Guests to SIGKILL (their whole group) after the test if they still run, whoever launched them. */
  readonly #guests: { pid: number; startTime: string }[] = [];
  readonly children: ChildProcess[] = [];

  private constructor(readonly dir: string) {
    this.records = new FileRecords(join(dir, "guests.json"));
    this.logDir = join(dir, "guests");
  }

  static async make(): Promise<KeepPlace> {
    return new KeepPlace(await mkdtemp(join(tmpdir(), "froctal-keep-")));
  }

  keep() {
    return { records: this.records, logDir: this.logDir, pollMs: 50 };
  }

  /** What a kept guest printed, from its log file. */
  log(instanceId: string): Promise<string> {
    return readFile(join(this.logDir, `${instanceId}.log`), "utf8");
  }

  /**
   * Starts `spec` (a guest that prints "ready" once it is set up) under a
   * keep-mode driver in a process of its own, then SIGKILLs that process once
   * the guest is ready; resolves with the guest's pid after the driver's
   * process is gone.
   */
  async startByDeadDriver(spec: LaunchSpec): Promise<number> {
    const { driver, pid } = await this.startInProcess(spec);
    await vi.waitFor(async () => expect(await this.log(spec.instanceId)).toBe("ready\n"));
    const gone = new Promise((resolve) => driver.once("exit", resolve));
    driver.kill("SIGKILL");
    await gone;
    return pid;
  }

  /**
   * Starts `spec` under a keep-mode driver in a process of its own (given
   * "close", the driver is closed next and the process left to exit alone);
   * resolves once the guest has started.
   */
  async startInProcess(spec: LaunchSpec, then?: "close"): Promise<{ driver: ChildProcess; pid: number }> {
    const args = [fixture("keeping-driver.mjs"), this.records.path, this.logDir, JSON.stringify(spec)];
    const driver = spawn(process.execPath, then === undefined ? args : [...args, then], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.children.push(driver);
    const started = await new Promise<DriverEvent>((resolve, reject) => {
      driver.stdout?.once("data", (chunk: Buffer) => resolve(JSON.parse(chunk.toString().split("\n")[0]!)));
      driver.once("close", () => reject(new Error("the keeping driver exited early")));
    });
    const pid = pidOf(started);
    this.killLater(pid);
    return { driver, pid };
  }

  /** A process no driver launched: graceful.mjs with `env`; `printed()` is what it wrote (it says "stopping" on SIGTERM). */
  bystander(env: Record<string, string> = {}): { pid: number; printed(): string } {
    const child = spawn(process.execPath, [fixture("graceful.mjs")], {
      env: { PATH: process.env.PATH ?? "", ...env },
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.children.push(child);
    let printed = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      printed += chunk.toString();
    });
    return { pid: child.pid!, printed: () => printed };
  }

  /** SIGKILLs the group of this guest after the test, if it still runs then. */
  killLater(pid: number): void {
    this.#guests.push({ pid, startTime: startTimeOf(pid) });
  }

  async cleanup(): Promise<void> {
    for (const child of this.children.splice(0)) child.kill("SIGKILL");
    for (const { pid, startTime } of this.#guests.splice(0)) {
      // A pid of a guest that is gone may name another process by now.
      if (!isAlive(pid) || startTimeOf(pid) !== startTime) continue;
      try {
        process.kill(-pid, "SIGKILL");
      } catch {
        process.kill(pid, "SIGKILL");
      }
    }
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The fields of /proc/<pid>/stat after the last ")" (comm may hold either): state first, starttime at 19. */
function statFields(pid: number): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

/** The start time (clock ticks since boot) of a live process, read here independently of src/proc.ts. */
export function startTimeOf(pid: number): string {
  return statFields(pid)[19]!;
}

/** The argument vector of a live process. */
export function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").slice(0, -1);
}

/** The names of the variables a live process was exec'd with. */
export function envNamesOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, "utf8")
    .split("\0")
    .filter((entry) => entry.length > 0)
    .map((entry) => entry.slice(0, entry.indexOf("=")));
}
