/**
 * One metric across the instances of one service, maintained incrementally.
 * Each (instance, metric) pair holds a slot, made once when the instance's
 * session declares the metric; a sample then costs two additions on the slot
 * and the aggregate, with no lookup and no allocation, whatever the fleet size.
 * Reactivity is per tick, not per sample: the store publishes each changed
 * aggregate once at the end of the tick, so derivations re-run once a tick.
 * max, min and percentiles are computed on first read after a change, so a
 * policy pays for them only if it reads them.
 */
import { type IObservableValue, observable } from "mobx";
import type { MetricView } from "../policy/fleet.js";

/** One instance's latest value of one metric. */
export interface MetricSlot {
  readonly aggregate: Aggregate;
  value: number;
  /** False until the first sample, and again once the instance has left. */
  present: boolean;
}

export class Aggregate implements MetricView {
  private readonly members = new Set<MetricSlot>();
  private total = 0;
  private readonly version: IObservableValue<number> = observable.box(0);
  private sorted: number[] | undefined;
  /** Set while the aggregate has changes the current tick has not published. */
  dirty = false;

  constructor(readonly name: string) {}

  /** A slot for one more instance; it counts once it has a value. */
  join(): MetricSlot {
    return { aggregate: this, value: 0, present: false };
  }

  /** Records a slot's latest value; returns true when the aggregate became dirty this tick. */
  update(slot: MetricSlot, value: number): boolean {
    if (slot.present) {
      if (slot.value === value) return false;
      this.total += value - slot.value;
    } else {
      slot.present = true;
      this.total += value;
      this.members.add(slot);
    }
    slot.value = value;
    return this.markDirty();
  }

  /** Takes a slot out (its instance is gone); returns true when the aggregate became dirty this tick. */
  leave(slot: MetricSlot): boolean {
    if (!slot.present) return false;
    slot.present = false;
    this.members.delete(slot);
    this.total -= slot.value;
    if (this.members.size === 0) this.total = 0; // no drift from float rounding once empty
    return this.markDirty();
  }

  /** A slot's value, read reactively: a policy that reads it re-runs when the aggregate changes. */
  read(slot: MetricSlot): number | undefined {
    this.version.get();
    return slot.present ? slot.value : undefined;
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
    return this.members.size;
  }

  get mean(): number {
    this.version.get();
    return this.members.size === 0 ? 0 : this.total / this.members.size;
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
    if (this.sorted === undefined) this.sorted = [...this.members].map((m) => m.value).sort((a, b) => a - b);
    return this.sorted;
  }

  private markDirty(): boolean {
    if (this.dirty) return false;
    this.dirty = true;
    return true;
  }
}
