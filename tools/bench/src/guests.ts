/** The parent's side of guest.ts: forks benchmark guests, waits for them to connect, stops them, collects what they report. */
import { type ChildProcess, fork } from "node:child_process";
import type { AgentStats } from "@froctal/agent";

export type GuestKind = "gauge" | "event";

export interface GuestSpec {
  /** FROCTAL_MANAGER_URL, FROCTAL_INSTANCE_ID, FROCTAL_TOKEN: what a driver hands a guest. */
  readonly env: Readonly<Record<string, string>>;
  readonly kind: GuestKind;
  /** Signals per batch frame. */
  readonly batch: number;
  /** Steady-state frames to keep a copy of, for the decode ceiling. */
  readonly capture: number;
}

export interface GuestReport {
  readonly frames: readonly Uint8Array[];
  /** CPU the guest used from the last mark() to its stop, as a share of one core. */
  readonly cpu: number;
  readonly stats: AgentStats;
}

const GUEST = new URL("./guest.js", import.meta.url);
const CONNECT_TIMEOUT_MS = 15_000;
const STOP_TIMEOUT_MS = 5_000;

export class Guest {
  /** Resolves once the guest's agent has a session; rejects if it exits first or takes too long. */
  readonly connected: Promise<void>;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private report: ((r: GuestReport) => void) | undefined;

  constructor(spec: GuestSpec) {
    this.child = fork(GUEST, [], {
      env: {
        ...process.env,
        ...spec.env,
        BENCH_KIND: spec.kind,
        BENCH_BATCH: String(spec.batch),
        BENCH_CAPTURE: String(spec.capture),
      },
      // BENCH_GUEST_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the guests.
      execArgv: (process.env.BENCH_GUEST_ARGS ?? "").split(" ").filter((a) => a !== ""),
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.exited = new Promise((resolve) => this.child.once("exit", () => resolve()));
    this.connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("a bench guest did not connect in time")), CONNECT_TIMEOUT_MS);
      this.child.on("message", (m: { type: string; report?: GuestReport }) => {
        if (m.type === "connected") {
          clearTimeout(timer);
          resolve();
        } else if (m.type === "done" && m.report) {
          this.report?.(m.report);
        }
      });
      void this.exited.then(() => {
        clearTimeout(timer);
        reject(new Error(`a bench guest exited with code ${this.child.exitCode} before it connected`));
      });
    });
    this.connected.catch(() => {});
  }

  /** Tells the guest the measuring window starts now: its CPU figure covers from here to stop(). */
  mark(): void {
    if (this.child.connected) this.child.send({ type: "mark" });
  }

  /** Asks the guest to stop producing and report; kills it if it does not answer in time. */
  async stop(): Promise<GuestReport | undefined> {
    if (this.child.exitCode !== null || !this.child.connected) return undefined;
    const reported = new Promise<GuestReport | undefined>((resolve) => {
      this.report = resolve;
      setTimeout(() => resolve(undefined), STOP_TIMEOUT_MS).unref();
    });
    this.child.send({ type: "stop" });
    const report = await reported;
    const gone = await Promise.race([
      this.exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), STOP_TIMEOUT_MS).unref()),
    ]);
    if (!gone) this.kill();
    return report;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}

/** Stops every guest together. */
export async function stopAll(guests: readonly Guest[]): Promise<GuestReport[]> {
  const reports = await Promise.all(guests.map((g) => g.stop()));
  return reports.filter((r): r is GuestReport => r !== undefined);
}

const REPLAY = new URL("./replay.js", import.meta.url);

/**
 * A raw WebSocket client process (replay.ts): `hello`, then `preamble` once,
 * then `frames` over and over, as fast as the socket takes them.
 */
export class Replay {
  readonly connected: Promise<void>;
  private readonly child: ChildProcess;

  constructor(url: string, hello: Uint8Array, frames: readonly Uint8Array[], preamble: readonly Uint8Array[] = []) {
    this.child = fork(REPLAY, [], {
      execArgv: [],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.connected = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error("the replay client did not connect in time")),
        CONNECT_TIMEOUT_MS,
      );
      this.child.on("message", (m: { type: string }) => {
        if (m.type !== "connected") return;
        clearTimeout(timer);
        resolve();
      });
      this.child.once("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`the replay client exited with code ${code} before it connected`));
      });
    });
    this.connected.catch(() => {});
    this.child.send({ type: "start", url, hello, preamble, frames });
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill("SIGKILL");
  }
}
