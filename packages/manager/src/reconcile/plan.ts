/**
 * The reconciler: plan = f(desired, actual, in-flight), a pure function.
 * Level-triggered: it looks only at the state, never at what happened, so
 * running it twice on the same state plans nothing new the second time once
 * the first plan's intents are recorded (in-flight keys, phase changes).
 */
import type { InstancePhase } from "../policy/fleet.js";
import { type Action, actionKey, instanceIdOf } from "./action.js";

export interface PlannedInstance {
  readonly id: string;
  readonly phase: InstancePhase;
  readonly ordinal: number;
  /** Load used to pick scale-in victims (undefined: unknown). */
  readonly load: number | undefined;
  readonly drained: boolean;
  readonly drainExpired: boolean;
  /** Draining, its frame not sent yet, and the network no longer sends it work: the frame may go now. */
  readonly drainDue?: boolean;
}

/**
 * What the plan looks at. Shaped so that planning costs O(1) when the service
 * is at its target and nothing needs attention, whatever the fleet size: the
 * active count is kept as phases change, and the list of active instances is
 * only asked for when some must go.
 */
export interface PlanInput {
  readonly service: string;
  readonly target: number;
  /** How many instances are requested, starting or ready. */
  readonly active: number;
  /** Instances in draining, stopping or failed. */
  readonly attention: readonly PlannedInstance[];
  /** The active instances (called only when there are more than the target). */
  readonly candidates: () => readonly PlannedInstance[];
  /** Keys (actionKey) of actions issued and not yet settled: the executor's own set. */
  readonly inFlight: ReadonlySet<string>;
  /** The ordinal the next new instance gets (its id follows from it, so the start's key is known now). */
  readonly nextOrdinal: number;
  /** No starts (restarts back off after failures, or the service failed for good). */
  readonly holdStarts: boolean;
  /**
   * Whether every guest runs the configuration the fleet wants for it (none
   * waits for a generation). A drained instance is stopped only then: until its
   * load balancer has committed a configuration without it, it may still be
   * sent work. Asked only when an instance has drained (it walks the fleet).
   */
  readonly configSettled: () => boolean;
}

/** The plan input for a full list of instances (the manager keeps the counts instead of listing). */
export function planInput(
  service: string,
  target: number,
  instances: readonly PlannedInstance[],
  inFlight: ReadonlySet<string>,
  nextOrdinal = 1 + Math.max(0, ...instances.map((i) => i.ordinal)),
): PlanInput {
  const active = instances.filter((i) => i.phase === "requested" || i.phase === "starting" || i.phase === "ready");
  const attention = instances.filter((i) => i.phase === "draining" || i.phase === "stopping" || i.phase === "failed");
  return {
    service,
    target,
    active: active.length,
    attention,
    candidates: () => active,
    inFlight,
    nextOrdinal,
    holdStarts: false,
    configSettled: () => true,
  };
}

/** Scale-in order: instances that are not serving yet first, then least loaded, then newest. */
export function victimOrder(a: PlannedInstance, b: PlannedInstance): number {
  const aReady = a.phase === "ready" ? 1 : 0;
  const bReady = b.phase === "ready" ? 1 : 0;
  if (aReady !== bReady) return aReady - bReady;
  const la = a.load ?? 0;
  const lb = b.load ?? 0;
  if (la !== lb) return la - lb;
  return b.ordinal - a.ordinal;
}

/** The actions a service needs now; no action whose key is in flight. */
export function plan(input: PlanInput): Action[] {
  const actions: Action[] = [];
  const service = input.service;
  for (const i of input.attention) {
    if (i.phase === "draining") {
      if (i.drainExpired || (i.drained && input.configSettled())) {
        const why = i.drainExpired ? "its drain deadline passed" : "it finished draining";
        push(actions, input, { kind: "stop", service, instanceId: i.id, reason: why });
      } else if (i.drainDue === true) {
        const why = "the network no longer sends it new connections";
        push(actions, input, { kind: "drain", service, instanceId: i.id, reason: why });
      }
    } else if (i.phase === "stopping" || i.phase === "failed") {
      push(actions, input, { kind: "stop", service, instanceId: i.id, reason: `it is ${i.phase}` });
    }
  }

  const why = `${input.service} has ${input.active} active instances for a target of ${input.target}`;
  const excess = input.active - input.target;
  if (excess > 0) {
    const victims = [...input.candidates()].sort(victimOrder).slice(0, excess);
    for (const v of victims) {
      const kind = v.phase === "ready" ? "drain" : "stop";
      push(actions, input, { kind, service, instanceId: v.id, reason: why });
    }
  } else if (excess < 0 && !input.holdStarts) {
    for (let n = 0; n < -excess; n++) {
      const ordinal = input.nextOrdinal + n;
      push(actions, input, {
        kind: "start",
        service,
        instanceId: instanceIdOf(service, ordinal),
        ordinal,
        reason: why,
      });
    }
  }
  return actions;
}

function push(actions: Action[], input: PlanInput, action: Action): void {
  if (!input.inFlight.has(actionKey(action))) actions.push(action);
}
