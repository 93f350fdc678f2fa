import { type ChildProcess, spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const script = fileURLToPath(new URL("./fixtures/candidate.mjs", import.meta.url));
/** The fixture imports the built package: leadership tests need `npx tsc -b` first. */
export const BUILT = fileURLToPath(new URL("../dist/index.js", import.meta.url));

/** What test/fixtures/candidate.mjs prints, one JSON object a line. */
export type CandidateEvent =
  | { readonly event: "elected" }
  | { readonly event: "not-elected"; readonly why: string }
  | { readonly event: "lost"; readonly why: string; readonly leading: boolean }
  | { readonly event: "refused"; readonly code: string }
  | { readonly event: "flushed"; readonly id: string };

/** A candidate in a child node process, so a test can SIGKILL, SIGSTOP and SIGCONT it. */
export class CandidateProcess {
  readonly events: CandidateEvent[] = [];
  readonly #child: ChildProcess;
  readonly #waiters: { readonly event: string; readonly resolve: (e: CandidateEvent) => void }[] = [];
  #stderr = "";

  constructor(endpoints: readonly string[], prefix: string, fleet: string, id: string, ttlSeconds: number) {
    this.#child = spawn(process.execPath, [script, endpoints.join(","), prefix, fleet, id, String(ttlSeconds)], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    this.#child.stderr?.on("data", (chunk: Buffer) => {
      this.#stderr += chunk.toString();
    });
    let partial = "";
    this.#child.stdout?.on("data", (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) this.#heard(JSON.parse(line) as CandidateEvent);
    });
  }

  /** Resolves with the first event of this kind, past or future; rejects if the child exits or `ms` pass first. */
  next(event: CandidateEvent["event"], ms = 15_000): Promise<CandidateEvent> {
    const seen = this.events.find((e) => e.event === event);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no ${event} within ${ms} ms; stderr: ${this.#stderr}`)), ms);
      this.#waiters.push({
        event,
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
      });
    });
  }

  /** Asks the child for a guarded write of instance `id`, then a flush. */
  write(id: string): void {
    this.#child.stdin?.write(`${id}\n`);
  }

  signal(signal: NodeJS.Signals): void {
    this.#child.kill(signal);
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGKILL");
    await exited;
  }

  #heard(event: CandidateEvent): void {
    this.events.push(event);
    for (const waiter of this.#waiters.filter((w) => w.event === event.event)) {
      this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
      waiter.resolve(event);
    }
  }
}
