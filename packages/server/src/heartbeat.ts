/**
 * Liveness of one connection, on the injected clock. One timer, re-armed
 * lazily: hearing from the agent only moves a number, so a busy connection
 * costs no timer churn. Silent for one period: ping, and again every period;
 * silent for TIMEOUT_BEATS periods: the agent is taken for gone.
 */
import type { Clock, Disposer } from "@froctal/primitives";
import { noop } from "@froctal/primitives";

export const TIMEOUT_BEATS = 3;

export interface HeartbeatEvents {
  /** Runs on every wake-up, before anything else: a chance to retry work that was held back. */
  beat(): void;
  ping(now: number): void;
  timeout(silentMs: number): void;
}

export class Heartbeat {
  private lastHeard: number;
  private timer: Disposer = noop;
  private running = false;

  constructor(
    private readonly clock: Clock,
    private readonly periodMs: number,
    private readonly events: HeartbeatEvents,
  ) {
    this.lastHeard = clock.now();
  }

  heard(now: number): void {
    this.lastHeard = now;
  }

  start(): void {
    this.running = true;
    this.arm(this.lastHeard + this.periodMs);
  }

  stop(): void {
    this.running = false;
    this.timer();
  }

  private arm(at: number): void {
    this.timer();
    this.timer = this.clock.setTimeout(() => this.wake(), Math.max(0, at - this.clock.now()));
  }

  private wake(): void {
    const now = this.clock.now();
    this.events.beat();
    if (!this.running) return;
    const silent = now - this.lastHeard;
    const deadline = this.lastHeard + TIMEOUT_BEATS * this.periodMs;
    if (now >= deadline) {
      this.running = false;
      this.events.timeout(silent);
      return;
    }
    let next = this.lastHeard + this.periodMs;
    if (silent >= this.periodMs) {
      this.events.ping(now);
      next = now + this.periodMs;
    }
    if (this.running) this.arm(Math.min(next, deadline));
  }
}
