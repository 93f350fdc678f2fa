/**
 * One metric across the instances of one service, maintained incrementally:
 * a sample costs a map update and two additions, whatever the fleet size.
 * Reactivity is per tick, not per sample: the store bumps `version` once at
 * the end of the tick that changed it, so derivations re-run once a tick.
 * max, min and percentiles are computed on first read after a change, so a
 * policy pays for them only if it reads them.
 */
import { type IObservableValue, observable } from "mobx";
import type { MetricView } from "../policy/fleet.js";

export class Aggregate implements MetricView {
  private readonly values = new Map<string, number>();
  private total = 0;
  private readonly version: IObservableValue<number> = observable.box(0);
  private sorted: number[] | undefined;
  /** Set while the aggregate has changes the current tick has not published. */
  dirty = false;

  constructor(readonly name: string) {}

  /** Records an instance's latest value; returns true when the aggregate became dirty this tick. */
  set(instanceId: string, value: number): boolean {
    const old = this.values.get(instanceId);
    if (old === value) return false;
    this.total += value - (old ?? 0);
    this.values.set(instanceId, value);
    return this.markDirty();
  }

  delete(instanceId: string): boolean {
    const old = this.values.get(instanceId);
    if (old === undefined) return false;
    this.values.delete(instanceId);
    this.total -= old;
    if (this.values.size === 0) this.total = 0; // no drift from float rounding once empty
    return this.markDirty();
  }

  get(instanceId: string): number | undefined {
    this.version.get(); // InstanceView.metric() reads this: a policy that reads it must re-run on change
    return this.values.get(instanceId);
  }

  /** Makes this tick's changes visible to derivations; called once per tick by the store. */
  publish(): void {
    this.dirty = false;
    this.sorted = undefined;
    this.version.set(this.version.get() + 1);
  }

  get sum(): number {
    this.version.get();
    return this.total;
  }

  get count(): number {
    this.version.get();
    return this.values.size;
  }

  get mean(): number {
    this.version.get();
    return this.values.size === 0 ? 0 : this.total / this.values.size;
  }

  get max(): number {
    const s = this.sortedValues();
    return s.length === 0 ? 0 : s[s.length - 1]!;
  }

  get min(): number {
    const s = this.sortedValues();
    return s.length === 0 ? 0 : s[0]!;
  }

  percentile(p: number): number {
    const s = this.sortedValues();
    if (s.length === 0) return 0;
    // p * n first: (p / 100) * n rounds 7 / 100 * 100 up to 7.000000000000001, one rank too high.
    const rank = Math.min(s.length - 1, Math.max(0, Math.ceil((Math.min(100, Math.max(0, p)) * s.length) / 100) - 1));
    return s[rank]!;
  }

  private sortedValues(): number[] {
    this.version.get();
    if (this.sorted === undefined) this.sorted = [...this.values.values()].sort((a, b) => a - b);
    return this.sorted;
  }

  private markDirty(): boolean {
    if (this.dirty) return false;
    this.dirty = true;
    return true;
  }
}
