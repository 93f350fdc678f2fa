/**
 * What the reconciler asks of the world, as typed values: the plan makes them,
 * the issuer records their intent in the store, the executor runs them (it is
 * the one owner of work in flight) and their outcome comes back carrying the
 * same value. Nothing is encoded into a string to be parsed back.
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
