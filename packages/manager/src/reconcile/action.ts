/**
 * What the manager asks of the world, as typed values. An Action is the
 * reconciler's: the plan makes it, the issuer records its intent in the store,
 * the executor runs it (it is the one owner of the reconciler's work in
 * flight) and its outcome comes back carrying the same value. A Configure is
 * one step of a configuration generation, which the rollout owns while it is
 * in flight. Both reach the world through execute/perform.ts only. Nothing is
 * encoded into a string to be parsed back.
 */

export type Action =
  /** Launch a new instance with this id (the plan picks the id, so plan and flight share one key). */
  | {
      readonly kind: "start";
      readonly service: string;
      readonly instanceId: string;
      readonly ordinal: number;
      readonly reason: string;
    }
  /** Ask the guest to finish its work (a Drain frame); it answers DRAINED, or its deadline passes. */
  | { readonly kind: "drain"; readonly service: string; readonly instanceId: string; readonly reason: string }
  /** Stop the guest through the driver (with the service's grace). */
  | { readonly kind: "stop"; readonly service: string; readonly instanceId: string; readonly reason: string };

export type ActionKind = Action["kind"];

/**
 * One step of a configuration generation for one participant (rollout/rollout.ts). It is written to the
 * guest's session at once (execute/perform.ts: `command`), not queued in the executor: the rollout's own
 * protocol is its retry and its deadline (a prepare that cannot be written aborts the generation, one that is
 * not answered times out), and commit must reach every participant in the step that saw the last prepare.
 */
export type Configure =
  | {
      readonly kind: "configure";
      readonly step: "prepare";
      readonly generation: number;
      /** This push's nonce: the guest's answers carry it back. */
      readonly nonce: string;
      /** The configuration to prepare, as canonical JSON. */
      readonly json: string;
      /** How long the guest has to prepare, ms. */
      readonly timeoutMs: number;
    }
  | { readonly kind: "configure"; readonly step: "commit"; readonly generation: number; readonly nonce: string }
  | {
      readonly kind: "configure";
      readonly step: "abort";
      readonly generation: number;
      readonly nonce: string;
      readonly reason: string;
    };

/**
 * The key an action is known by in maps (in flight, planned): built here and
 * only here, from the typed value, and never parsed. One action per kind and
 * instance at a time.
 */
export function actionKey(action: Action): string {
  return `${action.kind}:${action.instanceId}`;
}

/** The id of a service's instance with this ordinal: the one place ids are made. */
export function instanceIdOf(service: string, ordinal: number): string {
  return `${service}-${ordinal}`;
}
