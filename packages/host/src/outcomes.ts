/**
 * Idempotence by action key: an action whose key is in flight is joined, one
 * already answered is answered again from memory, without acting a second
 * time. The manager re-sends every action it has no outcome for when a host
 * reconnects, so the same key can arrive twice or more.
 *
 * A key is remembered until it stops meaning the same thing: "start:web-3"
 * once web-3 is stopped or has exited (a later start must run again), and
 * "stop:web-3" once web-3 is started again. The oldest of more than
 * MAX_ANSWERED keys are forgotten too; the drivers are themselves idempotent
 * by instance id (starting a running guest changes nothing), so a forgotten
 * key repeats no effect either.
 */
import { type FroctalError, toFroctalError } from "@froctal/primitives";

const MAX_ANSWERED = 4096;

export type Outcome = FroctalError | undefined;

export class Outcomes {
  readonly #inflight = new Map<string, Promise<Outcome>>();
  readonly #answered = new Map<string, Outcome>();

  /** Runs `act` for `key` unless it is in flight or answered; resolves with its error, or undefined if it succeeded. */
  run(key: string, instanceId: string, act: () => Promise<void>): Promise<Outcome> {
    const joined = this.#inflight.get(key);
    if (joined !== undefined) return joined;
    if (this.#answered.has(key)) return Promise.resolve(this.#answered.get(key));
    const kind = key.slice(0, key.indexOf(":"));
    // The opposite action's answer no longer holds.
    this.#answered.delete(`${kind === "start" ? "stop" : "start"}:${instanceId}`);
    const running = act().then(
      () => undefined,
      (error: unknown) => toFroctalError(error),
    );
    this.#inflight.set(key, running);
    return running.then((outcome) => {
      this.#inflight.delete(key);
      // A failed action may be asked again and should then run again.
      if (outcome === undefined) this.#remember(key);
      return outcome;
    });
  }

  /** The guest exited: a later start of it must run again. */
  exited(instanceId: string): void {
    this.#answered.delete(`start:${instanceId}`);
  }

  #remember(key: string): void {
    this.#answered.set(key, undefined);
    if (this.#answered.size > MAX_ANSWERED) this.#answered.delete(this.#answered.keys().next().value!);
  }
}
