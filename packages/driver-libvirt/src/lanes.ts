/**
 * One lane per instance id: the start or stop under way, and the next call
 * waiting behind it. A call like the last one queued joins it (a second start
 * joins the first; a second stop waits for the first, whose grace period
 * applies); a different one runs after it, whatever its outcome.
 */
export class Lanes {
  readonly #lanes = new Map<string, { readonly kind: "start" | "stop"; readonly done: Promise<void> }>();

  run(instanceId: string, kind: "start" | "stop", call: () => Promise<void>): Promise<void> {
    const last = this.#lanes.get(instanceId);
    if (last?.kind === kind) return last.done;
    const done = (last?.done ?? Promise.resolve()).then(call, call);
    const lane = { kind, done };
    this.#lanes.set(instanceId, lane);
    const clear = () => {
      if (this.#lanes.get(instanceId) === lane) this.#lanes.delete(instanceId);
    };
    done.then(clear, clear);
    return done;
  }

  /** A start or stop of this instance is queued or under way. */
  has(instanceId: string): boolean {
    return this.#lanes.has(instanceId);
  }

  /** Settles once everything queued now has run. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#lanes.values()].map((lane) => lane.done));
  }
}
