/**
 * Drain and Shutdown, the manager's lifecycle commands. Each is answered with
 * lifecycle signals around the guest's handlers:
 *
 *   Drain     -> DRAINING, await every onDrain handler, DRAINED (not if one failed:
 *                the manager's deadline decides then); a repeated Drain once drained
 *                reports DRAINED again, one while draining is ignored
 *   Shutdown  -> STOPPING, await every onShutdown handler, then close the agent
 *                (flushing within grace_ms); a repeated Shutdown is ignored
 */
import type { Disposer } from "@froctal/primitives";
import { FroctalError } from "@froctal/protocol";
import type { PhaseName } from "./signals.js";

export interface DrainCommand {
  readonly deadlineMs: number;
  readonly reason: string;
}

export interface ShutdownCommand {
  readonly graceMs: number;
  readonly reason: string;
}

export interface LifecycleHost {
  /** Queues a lifecycle signal; failures are the host's to report. */
  phase(name: PhaseName, detail: string): void;
  report(error: FroctalError): void;
  close(timeoutMs: number): Promise<unknown>;
  readonly closeTimeoutMs: number;
}

export class LifecycleCommands {
  private readonly drainHandlers = new Set<(drain: DrainCommand) => unknown>();
  private readonly shutdownHandlers = new Set<(shutdown: ShutdownCommand) => unknown>();
  private drainState: "none" | "draining" | "drained" = "none";
  private shuttingDown = false;

  constructor(private readonly host: LifecycleHost) {}

  onDrain(handler: (drain: DrainCommand) => unknown): Disposer {
    return hold(this.drainHandlers, handler);
  }

  onShutdown(handler: (shutdown: ShutdownCommand) => unknown): Disposer {
    return hold(this.shutdownHandlers, handler);
  }

  async drain(drain: DrainCommand): Promise<void> {
    if (this.drainState === "draining") return;
    if (this.drainState === "drained") return this.host.phase("drained", drain.reason);
    this.drainState = "draining";
    this.host.phase("draining", drain.reason);
    const failures = await this.run(this.drainHandlers, drain, "drain");
    this.drainState = failures ? "none" : "drained";
    if (!failures) this.host.phase("drained", drain.reason);
  }

  async shutdown(shutdown: ShutdownCommand): Promise<void> {
    if (this.shuttingDown) return;
    this.shuttingDown = true;
    this.host.phase("stopping", shutdown.reason);
    await this.run(this.shutdownHandlers, shutdown, "shutdown");
    const limit = this.host.closeTimeoutMs;
    await this.host.close(shutdown.graceMs > 0 ? Math.min(shutdown.graceMs, limit) : limit);
  }

  clear(): void {
    this.drainHandlers.clear();
    this.shutdownHandlers.clear();
  }

  /** Runs every handler, awaiting them together; reports and counts the ones that fail. */
  private async run<A>(handlers: Set<(arg: A) => unknown>, arg: A, what: string): Promise<number> {
    const results = await Promise.allSettled([...handlers].map(async (h) => h(arg)));
    let failures = 0;
    for (const r of results) {
      if (r.status === "fulfilled") continue;
      failures++;
      const why = r.reason instanceof Error ? r.reason.message : String(r.reason);
      this.host.report(new FroctalError("FROCTAL_E_INTERNAL", `a ${what} handler failed: ${why}`, { cause: r.reason }));
    }
    return failures;
  }
}

function hold<H>(set: Set<H>, handler: H): Disposer {
  set.add(handler);
  return () => {
    set.delete(handler);
  };
}
