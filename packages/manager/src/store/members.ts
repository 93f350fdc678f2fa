/**
 * The instances of a service, by id, observable as a whole through one atom:
 * MobX's observable map keeps an observable box per entry, which a fleet of
 * 100,000 instances pays for 100,000 times. Derivations that list members
 * re-run when one joins or leaves, which is what they need.
 */
import { createAtom } from "mobx";

export class Members<T extends { readonly id: string }> {
  private readonly byId = new Map<string, T>();
  private readonly atom = createAtom("members");

  get size(): number {
    this.atom.reportObserved();
    return this.byId.size;
  }

  get(id: string): T | undefined {
    this.atom.reportObserved();
    return this.byId.get(id);
  }

  values(): IterableIterator<T> {
    this.atom.reportObserved();
    return this.byId.values();
  }

  /** Call inside an action. */
  set(id: string, member: T): void {
    this.byId.set(id, member);
    this.atom.reportChanged();
  }

  /** Call inside an action; returns whether it was there. */
  delete(id: string): boolean {
    const had = this.byId.delete(id);
    if (had) this.atom.reportChanged();
    return had;
  }
}
