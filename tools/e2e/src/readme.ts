/**
 * What readme.test.ts needs to run the root README's commands as a newcomer
 * would: its code blocks by section, a shell in a sandbox of its own (port,
 * state and device folders), and a normal form of outputs in which what varies
 * from run to run (generation numbers, ports, times, pids) is masked.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import type { ManagerStatus } from "@froctal/manager";
import { eventually } from "./fleet.js";

export interface Block {
  /** `sh`: commands, one a line; `text`: what something printed. */
  readonly kind: "sh" | "text";
  readonly lines: readonly string[];
  /** Its fence opens on the line right after the block before it closes: the output of that block's last command. */
  readonly follows: boolean;
  /** Its opening fence's line in the file, 1-based, for messages. */
  readonly line: number;
}

/** The fenced code blocks of a markdown file, by the `##`/`###` heading they are under. */
export function codeBlocks(markdown: string): Map<string, Block[]> {
  const sections = new Map<string, Block[]>();
  let section = "";
  let closedAt = -2;
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^#{2,3} (.+)$/.exec(line);
    if (heading !== null) {
      section = heading[1]!.trim();
      continue;
    }
    const open = /^(\s*)```(\w*)\s*$/.exec(line);
    if (open === null) continue;
    const indent = open[1]!.length;
    const body: string[] = [];
    const at = i + 1;
    for (i++; i < lines.length && !/^\s*```\s*$/.test(lines[i]!); i++) body.push(lines[i]!.slice(indent));
    const blocks = sections.get(section) ?? [];
    blocks.push({
      kind: open[2] === "sh" ? "sh" : "text",
      lines: body,
      follows: blocks.length > 0 && closedAt === at - 2,
      line: at,
    });
    sections.set(section, blocks);
    closedAt = i;
  }
  return sections;
}

/** The fields of a manager log line that say what happened (not when, where or which process). */
const LOG_FIELDS = ["component", "instance", "stream", "kind", "msg"] as const;

export const isLogLine = (line: string) => line.startsWith('{"level":');

/**
 * Masks what differs between runs. With `numbered`, each distinct generation
 * becomes G1, G2, ... in order of first appearance, so a block still says which
 * instances share one; without, every generation is G (for lines looked up
 * one by one in a log).
 */
export function normalize(text: string, numbered: boolean): string {
  const generations = new Map<string, string>();
  const gen = (n: string) => {
    if (!numbered) return "G";
    if (!generations.has(n)) generations.set(n, `G${generations.size + 1}`);
    return generations.get(n)!;
  };
  return text
    .trim()
    .split("\n")
    .map((line) => {
      let out = line;
      if (isLogLine(line.trim())) {
        const entry = JSON.parse(line) as Record<string, unknown>;
        out = JSON.stringify(Object.fromEntries(LOG_FIELDS.filter((k) => k in entry).map((k) => [k, entry[k]])));
      }
      return out
        .replace(/(generation |gen |\bg)(\d+)\b/g, (_m, before: string, n: string) => `${before}${gen(n)}`)
        .replace(/("generation":)(\d+)/g, (_m, before: string, n: string) => `${before}${gen(n)}`)
        .replace(/(127\.0\.0\.1|localhost):\d+/g, "$1:PORT")
        .replace(/\s+/g, " ")
        .trimEnd();
    })
    .join("\n");
}

export interface Sandbox {
  readonly root: string;
  /** Stands in for /tmp/froctal-devices in every command. */
  readonly devices: string;
  /** XDG_STATE_HOME: where the managers keep their state. */
  readonly stateHome: string;
  readonly port: number;
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/**
 * Runs README commands with `sh -c` in the repository root, as a person at a
 * shell would, with FROCTAL_PORT, XDG_STATE_HOME and FROCTAL_DEVICE_DIR
 * pointing into the sandbox. `froctal up` runs in the background, as in a
 * second shell, and Ctrl-C (SIGINT to its process group) stops it.
 */
export class ReadmeShell {
  readonly #box: Sandbox;
  readonly #env: NodeJS.ProcessEnv;
  #manager: { child: ChildProcess; command: string; log: string[]; exited: Promise<void> } | undefined;

  constructor(box: Sandbox) {
    this.#box = box;
    this.#env = {
      ...process.env,
      FROCTAL_PORT: String(box.port),
      XDG_STATE_HOME: box.stateHome,
      FROCTAL_DEVICE_DIR: box.devices,
      // npx must run the froctal this repository linked, never fetch a package of that name.
      npm_config_yes: "false",
    };
  }

  get url(): string {
    return `http://127.0.0.1:${this.#box.port}`;
  }

  /** The running manager's log lines (stdout). */
  get log(): readonly string[] {
    return this.#manager?.log ?? [];
  }

  run(command: string): Promise<Ran> {
    return new Promise((resolve, reject) => {
      const child = spawn("sh", ["-c", this.#local(command)], { cwd: this.#box.root, env: this.#env });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => {
        stdout += c.toString();
      });
      child.stderr.on("data", (c: Buffer) => {
        stderr += c.toString();
      });
      child.once("error", reject);
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** Starts `froctal up` in the background and waits until every instance is ready and no rollout is in flight. */
  async up(command: string): Promise<void> {
    await this.stop();
    // No shell in between: a non-interactive sh dies of the Ctrl-C its foreground child handles.
    const argv = this.#local(command).replace(/#.*$/, "").trim().split(/\s+/);
    const child = spawn(argv[0]!, argv.slice(1), {
      cwd: this.#box.root,
      env: this.#env,
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log: string[] = [];
    createInterface({ input: child.stdout! }).on("line", (l) => log.push(l));
    createInterface({ input: child.stderr! }).on("line", (l) => log.push(`stderr: ${l}`));
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    this.#manager = { child, command, log, exited };
    const settled = async () => {
      const answer = await fetch(`${this.url}/status`).catch(() => undefined);
      const status = (await answer?.json().catch(() => undefined)) as ManagerStatus | undefined;
      if (status === undefined || status.rollout !== null) return undefined;
      // Before its first tick a manager holds every target at 0 with no instance: not settled yet.
      const ready = status.services.every(
        (s) =>
          s.target === s.recommended &&
          s.instances.length === s.target &&
          s.instances.every((i) => i.phase === "ready" && i.connected),
      );
      return ready ? true : undefined;
    };
    await eventually(settled, `${command} to start its fleet`).catch((error: Error) => {
      throw new Error(`${error.message}; it printed:\n${log.join("\n")}`);
    });
  }

  /**
   * Ctrl-C in the manager's shell: SIGINT to npx and froctal alike. Resolves,
   * once the froctal process itself is gone, with what it logged (npx dies of
   * the signal, so the log says how froctal ended, not an exit code).
   */
  async stop(): Promise<readonly string[]> {
    const m = this.#manager;
    if (m === undefined) return [];
    this.#manager = undefined;
    const pid = m.log.map((l) => /^\{"level":\d+,"time":\d+,"pid":(\d+),/.exec(l)?.[1]).find((p) => p !== undefined);
    if (m.child.exitCode === null && m.child.signalCode === null) process.kill(-m.child.pid!, "SIGINT");
    await m.exited;
    if (pid !== undefined) {
      await eventually(async () => (existsSync(`/proc/${pid}`) ? undefined : true), `froctal (pid ${pid}) to exit`);
    }
    return m.log;
  }

  /** The same `froctal up` again, after Ctrl-C and `rm -rf /tmp/froctal-devices`: a separate run. */
  async restart(): Promise<void> {
    const command = this.#manager?.command;
    if (command === undefined) throw new Error("no froctal up to restart");
    await this.stop();
    // As the README says for a separate run: no devices and no state of the fleet (its ids would go on).
    await this.run(`rm -rf /tmp/froctal-devices "$XDG_STATE_HOME/froctal"`);
    await this.up(command);
  }

  #local(command: string): string {
    return command.replaceAll("/tmp/froctal-devices", this.#box.devices);
  }
}
