/**
 * The manager's one place for timers: every timer the core sets pushes a tick
 * input when it fires (so what it does happens inside a tick), is cancelled by
 * its disposer, and is released on close(). Deadlines that belong to an
 * instance are kept by instance, so a gone instance lets go of them at once
 * (a pending timer would keep the instance, and all it holds, alive).
 */
import type { Clock, Disposer } from "@froctal/primitives";
import type { Instance } from "../store/instance.js";
import type { TickInput } from "./input.js";

export type Deadline = "start" | "drain";

export class Timers {
  private readonly pending = new Set<Disposer>();
  /** Each instance's pending deadlines: how to cancel one, and when it falls due (wall clock, for status). */
  private readonly deadlines = new Map<Instance, Map<Deadline, { readonly cancel: Disposer; readonly at: number }>>();
  private wake: { readonly at: number; readonly dispose: Disposer } | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly push: (input: TickInput) => void,
  ) {}

  /** Pushes `input` after `ms`; the disposer cancels it. */
  after(ms: number, input: TickInput): Disposer {
    const cancel = this.clock.setTimeout(() => {
      this.pending.delete(dispose);
      this.push(input);
    }, ms);
    const dispose: Disposer = () => {
      if (this.pending.delete(dispose)) cancel();
    };
    this.pending.add(dispose);
    return dispose;
  }

  /** The clock as seen by parts that set timers of their own (the rollout): its timers run inside ticks. */
  asClock(): Clock {
    return {
      now: () => this.clock.now(),
      wallNow: () => this.clock.wallNow(),
      setTimeout: (fn, ms) => this.run(ms, fn),
    };
  }

  /** Runs `fn` inside a tick after `ms`. */
  run(ms: number, fn: () => void): Disposer {
    return this.after(ms, { kind: "timer", run: fn });
  }

  /** Arms an instance's deadline (replacing one of the same kind): it expires as a tick input. */
  deadline(instance: Instance, what: Deadline, ms: number): void {
    let mine = this.deadlines.get(instance);
    if (mine === undefined) {
      mine = new Map();
      this.deadlines.set(instance, mine);
    }
    mine.get(what)?.cancel();
    const dispose = this.after(ms, { kind: "expired", instance, what });
    const cancel = () => {
      dispose();
      mine.delete(what);
      if (mine.size === 0) this.deadlines.delete(instance);
    };
    mine.set(what, { cancel, at: this.clock.wallNow() + ms });
  }

  /** When an instance's pending deadline falls due (wall clock, ms), for status; undefined if none is pending. */
  dueAt(instance: Instance, what: Deadline): number | undefined {
    return this.deadlines.get(instance)?.get(what)?.at;
  }

  /** Cancels one deadline of an instance (it became ready: no start deadline any more). */
  clear(instance: Instance, what: Deadline): void {
    this.deadlines.get(instance)?.get(what)?.cancel();
  }

  /** Cancels every deadline of an instance (it is gone). */
  release(instance: Instance): void {
    const mine = this.deadlines.get(instance);
    if (mine === undefined) return;
    for (const { cancel } of [...mine.values()]) cancel();
    this.deadlines.delete(instance);
  }

  /** Makes sure a tick runs at `at` (one wake timer, the earliest wins). */
  wakeAt(at: number): void {
    if (this.wake !== undefined && this.wake.at <= at) return;
    this.wake?.dispose();
    const dispose = this.clock.setTimeout(
      () => {
        this.wake = undefined;
        this.push({ kind: "wake" });
      },
      Math.max(0, at - this.clock.now()),
    );
    this.wake = { at, dispose };
  }

  close(): void {
    for (const dispose of [...this.pending]) dispose();
    this.deadlines.clear();
    this.wake?.dispose();
    this.wake = undefined;
  }
}
