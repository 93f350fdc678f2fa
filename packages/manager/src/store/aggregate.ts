/**
 * One metric across the instances of one service, maintained incrementally.
 * Each (instance, metric) pair holds a slot, made once when the instance's
 * session declares the metric; a sample then costs two additions on the slot
 * and the aggregate, with no lookup and no allocation, whatever the fleet size.
 * Reactivity is per tick, not per sample: the store publishes each changed
 * aggregate once at the end of the tick, so derivations re-run once a tick.
 * A derivation that reads one instance's value depends on that slot only (an
 * atom of its own, made on the first tracked read), not on the whole service.
 * max, min and percentiles come from an order (./order.ts) built on their
 * first read and from then on caught up on the slots that changed, O(log n)
 * each: a policy pays for them only if it reads them, then per change, not
 * per member. Both live beside the slots, not in them: 100,000 slots that no
 * derivation reads that way carry no extra field.
 */
import { createAtom, type IAtom, type IObservableValue, observable } from "mobx";
import type { MetricView } from "../policy/fleet.js";
import { Order, type OrderNode } from "./order.js";

/** One instance's latest value of one metric. */
export interface MetricSlot {
  readonly aggregate: Aggregate;
  value: number;
  /** False until the first sample, and again once the instance has left. */
  present: boolean;
}

/** The members in order, with each one's node and the slots whose node lags their value (or their leaving). */
interface Ordered {
  readonly tree: Order;
  readonly nodes: Map<MetricSlot, OrderNode>;
  readonly moved: Set<MetricSlot>;
}

/**
 * Observed by every tracked read of one slot, and never changed: reportObserved()
 * says whether the read is inside a derivation, so an untracked read (status,
 * over every instance) allocates nothing.
 */
const tracking = createAtom("metric slot read");

export class Aggregate implements MetricView {
  private readonly members = new Set<MetricSlot>();
  private total = 0;
  private readonly version: IObservableValue<number> = observable.box(0);
  /** Made on the first read of max, min or a percentile. */
  private order: Ordered | undefined;
  /** The slots derivations read on their own, each with its atom (dropped when nobody reads it). */
  private readonly atoms = new Map<MetricSlot, IAtom>();
  /** Slots of `atoms` that changed this tick, told at publish. */
  private readonly touched = new Set<MetricSlot>();
  /** Set while the aggregate has changes the current tick has not published. */
  dirty = false;

  constructor(readonly name: string) {}

  /** A slot for one more instance; it counts once it has a value. */
  join(): MetricSlot {
    return { aggregate: this, value: 0, present: false };
  }

  /** How many slots derivations read on their own (each holds an atom while they do). */
  get observedSlots(): number {
    return this.atoms.size;
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
    this.queue(slot);
    return this.markDirty();
  }

  /** Takes a slot out (its instance is gone); returns true when the aggregate became dirty this tick. */
  leave(slot: MetricSlot): boolean {
    if (!slot.present) return false;
    slot.present = false;
    this.members.delete(slot);
    this.total -= slot.value;
    if (this.members.size === 0) this.total = 0; // no drift from float rounding once empty
    this.queue(slot);
    return this.markDirty();
  }

  /** A slot's value, read reactively: a derivation that reads it re-runs when this slot changes, not the others. */
  read(slot: MetricSlot): number | undefined {
    const atom = this.atoms.get(slot);
    if (atom !== undefined) atom.reportObserved();
    else if (tracking.reportObserved()) {
      const made = createAtom("metric slot", undefined, () => {
        if (this.atoms.get(slot) === made) this.atoms.delete(slot); // nobody reads it any more
      });
      this.atoms.set(slot, made);
      made.reportObserved();
    }
    return slot.present ? slot.value : undefined;
  }

  /** Makes this tick's changes visible to derivations; called once per tick by the store. */
  publish(): void {
    this.dirty = false;
    for (const slot of this.touched) this.atoms.get(slot)?.reportChanged();
    this.touched.clear();
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
    const order = this.ordered();
    return order.size === 0 ? 0 : order.at(order.size - 1);
  }

  get min(): number {
    const order = this.ordered();
    return order.size === 0 ? 0 : order.at(0);
  }

  percentile(p: number): number {
    const order = this.ordered();
    const n = order.size;
    if (n === 0) return 0;
    // p * n first: (p / 100) * n rounds 7 / 100 * 100 up to 7.000000000000001, one rank too high.
    const rank = Math.min(n - 1, Math.max(0, Math.ceil((Math.min(100, Math.max(0, p)) * n) / 100) - 1));
    return order.at(rank);
  }

  /** The order, caught up on the slots that changed since the last read. */
  private ordered(): Order {
    this.version.get();
    const order = this.order;
    if (order === undefined) {
      const tree = new Order();
      const nodes = new Map<MetricSlot, OrderNode>();
      for (const slot of this.members) {
        const node = tree.node(slot.value);
        nodes.set(slot, node);
        tree.insert(node);
      }
      this.order = { tree, nodes, moved: new Set() };
      return tree;
    }
    const { tree, nodes, moved } = order;
    for (const slot of moved) {
      const node = nodes.get(slot);
      if (node !== undefined) tree.remove(node); // found under the value it was filed with
      if (!slot.present) nodes.delete(slot);
      else if (node === undefined) {
        const made = tree.node(slot.value);
        nodes.set(slot, made);
        tree.insert(made);
      } else {
        node.key = slot.value;
        tree.insert(node);
      }
    }
    moved.clear();
    return tree;
  }

  /** Notes a changed slot for the order and for its own observers. */
  private queue(slot: MetricSlot): void {
    const order = this.order;
    if (order !== undefined) {
      order.moved.add(slot);
      // Nobody read the order for more changes than it has members: drop it rather than queue without bound
      // (slots that left stay queued); the next read rebuilds it, which costs no more than catching up.
      if (order.moved.size > this.members.size + 64) this.order = undefined;
    }
    if (this.atoms.size !== 0 && this.atoms.has(slot)) this.touched.add(slot);
  }

  private markDirty(): boolean {
    if (this.dirty) return false;
    this.dirty = true;
    return true;
  }
}
