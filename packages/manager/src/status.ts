/**
 * The plain snapshot `froctal status` and the HTTP API show: facts and
 * decisions, no live objects. `projectStatus` is a pure projection of the
 * parts it is given; times that leave the process are wall times (epoch ms).
 */
import type { Journal, JournalEntry } from "./journal.js";
import type { NetworkParty } from "./rollout/network.js";
import type { Rollout, RolloutInFlight, RolloutOutcome } from "./rollout/rollout.js";
import type { Autoscaler } from "./scale/autoscaler.js";
import type { Instance } from "./store/instance.js";
import type { Timers } from "./tick/timers.js";

export interface InstanceStatus {
  readonly id: string;
  readonly phase: string;
  readonly generation: number;
  readonly connected: boolean;
  readonly load: number | null;
  readonly devices: readonly unknown[];
  /** What the guest reported as its "endpoint" fact, if anything. */
  readonly endpoint: unknown;
  /** The latest payload of each application event the guest sent, by name. */
  readonly facts: Readonly<Record<string, unknown>>;
  readonly failure?: string;
  /**
   * A long operation's deadline while it runs: a start (ready by then, or it
   * counts as failed) or a drain (stopped by then, drained or not); wall clock, ms.
   */
  readonly deadline?: { readonly what: "start" | "drain"; readonly at: number };
}

export interface ServiceStatus {
  readonly name: string;
  readonly target: number;
  readonly recommended: number;
  readonly why: string;
  /** Why the service failed for good (a launch error retrying cannot fix): it starts nothing more. */
  readonly failure: string | null;
  /** The last time one of its instances failed (exited unexpectedly, could not start, was not ready in time). */
  readonly lastExit: { readonly instance: string; readonly reason: string; readonly at: number } | null;
  /** While starts are held back after failures (a crash loop): when they resume, epoch ms. */
  readonly nextAttemptAt: number | null;
  readonly instances: readonly InstanceStatus[];
}

export interface ManagerStatus {
  readonly fleet: string;
  readonly generation: number;
  readonly services: readonly ServiceStatus[];
  readonly rollouts: readonly RolloutOutcome[];
  /** The generation in flight, if one is. */
  readonly rollout: RolloutInFlight | null;
  /**
   * The network driver and the generation the network runs; null without one
   * (the fleet's own load balancer guests carry its backends).
   */
  readonly network: { readonly driver: string; readonly generation: number } | null;
  readonly journal: readonly JournalEntry[];
}

export interface StatusParts {
  readonly fleet: string;
  readonly autoscaler: Autoscaler;
  readonly rollout: Rollout;
  readonly rollouts: readonly RolloutOutcome[];
  readonly journal: Journal;
  readonly timers: Timers;
  readonly network: NetworkParty | undefined;
}

export function projectStatus(p: StatusParts): ManagerStatus {
  return {
    fleet: p.fleet,
    generation: p.rollout.lastGeneration,
    services: [...p.autoscaler.runtimes.values()].map((r) => {
      const loadMetric = r.service.spec.loadMetric;
      return {
        name: r.service.name,
        target: r.service.target,
        recommended: r.recommended.get().replicas,
        why: r.recommended.get().why,
        failure: r.failure.get() ?? null,
        lastExit: r.lastExit ?? null,
        nextAttemptAt: r.held.get() ? (r.nextAttemptAt ?? null) : null,
        instances: [...r.service.instances.values()].map((i) => ({
          id: i.id,
          phase: i.phase,
          generation: i.generation,
          connected: i.session !== undefined,
          load: loadMetric === undefined ? null : (i.metric(loadMetric) ?? null),
          devices: i.deviceList(),
          endpoint: i.fact<{ url?: unknown }>("endpoint")?.url ?? null,
          facts: i.factList(),
          ...(i.failure ? { failure: i.failure } : {}),
          ...deadlineOf(p.timers, i),
        })),
      };
    }),
    rollouts: [...p.rollouts],
    rollout: p.rollout.inFlight ?? null,
    network:
      p.network === undefined ? null : { driver: p.network.driver.description, generation: p.network.generation },
    journal: p.journal.recent(50),
  };
}

function deadlineOf(timers: Timers, i: Instance): { deadline?: InstanceStatus["deadline"] } {
  const what =
    i.phase === "draining" ? "drain" : i.phase === "starting" || i.phase === "requested" ? "start" : undefined;
  const at = what === undefined ? undefined : timers.dueAt(i, what);
  return what === undefined || at === undefined ? {} : { deadline: { what, at } };
}
