import type { Clock } from "@froctal/manager";
import type { Domain } from "./connection.js";
import { failureOf } from "./errors.js";
import type { Host } from "./host.js";
import { instanceState, type Tracked } from "./instance.js";

export interface StopOutcome {
  /** "stopped" for a persistent domain, which stays defined. */
  readonly state: "gone" | "stopped";
  /** How it went, for the exited event: "shut down within its grace period", "destroyed after its 500 ms grace period". */
  readonly how: string;
}

/**
 * Shutdown (ACPI: the guest decides), then destroy once `graceMs` has passed;
 * destroy at once for no grace or a crashed domain. The binding cannot say
 * when a domain goes, so its state is looked at every `checkMs` meanwhile.
 */
export async function shutDown(
  host: Host,
  t: Tracked,
  domain: Domain,
  graceMs: number,
  clock: Clock,
  checkMs: number,
): Promise<StopOutcome> {
  const deadline = clock.now() + graceMs;
  if (graceMs > 0 && t.state !== "crashed") {
    try {
      await host.call(`shutting down ${t.name} on ${host.uri}`, (c) => c.domainShutdown(domain));
    } catch (error) {
      const failure = failureOf(error);
      if (failure === "gone") return { state: "gone", how: "was already gone" };
      if (failure !== "inactive") throw error;
    }
    // Bounded by the deadline: every pass ends the wait or sleeps towards it.
    for (;;) {
      const info = await host.info(domain, t.name);
      if (info === undefined) return { state: "gone", how: "shut down within its grace period" };
      const state = instanceState(info.state);
      if (state === "stopped") return { state: "stopped", how: "shut down within its grace period" };
      if (state === "crashed") break;
      const left = deadline - clock.now();
      if (left <= 0) break;
      await new Promise<void>((resolve) => clock.setTimeout(resolve, Math.min(left, checkMs)));
    }
  }
  const gone = await destroy(host, t, domain);
  const how = graceMs > 0 ? `destroyed after its ${graceMs} ms grace period` : "destroyed (no grace period)";
  return { state: gone ? "gone" : "stopped", how };
}

/** Destroys the domain; true if it no longer exists afterwards (transient), false if it stays defined (persistent). */
export async function destroy(host: Host, t: Tracked, known?: Domain): Promise<boolean> {
  const domain = known ?? (await host.lookup(t.uuid));
  if (domain === undefined) return true;
  try {
    await host.call(`destroying ${t.name} on ${host.uri}`, (c) => c.domainDestroy(domain));
  } catch (error) {
    const failure = failureOf(error);
    if (failure === "gone") return true;
    if (failure !== "inactive") throw error;
  }
  return (await host.info(domain, t.name)) === undefined;
}
