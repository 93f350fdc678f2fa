import { describe, expect, it } from "vitest";
import { Listeners } from "./listeners.js";

describe("Listeners", () => {
  it("calls each registration, and a disposer removes exactly its own", () => {
    const l = new Listeners<number>();
    const seen: string[] = [];
    const fn = (v: number) => seen.push(`f${v}`);
    const d1 = l.add(fn);
    l.add(fn);
    l.emit(1);
    d1();
    l.emit(2);
    expect(seen).toEqual(["f1", "f1", "f2"]);
    expect(l.size).toBe(1);
  });

  it("a listener disposed by an earlier one during an emit hears no more", () => {
    const l = new Listeners<number>();
    const seen: string[] = [];
    let d2 = () => {};
    l.add(() => {
      seen.push("a");
      d2();
    });
    d2 = l.add(() => seen.push("b"));
    l.emit(0);
    expect(seen).toEqual(["a"]);
  });

  it("a throwing listener stops neither the others nor the emitter; its error goes to onError", () => {
    const errors: unknown[] = [];
    const l = new Listeners<number>((e) => errors.push(e));
    const seen: number[] = [];
    l.add(() => {
      throw new Error("boom");
    });
    l.add((v) => seen.push(v));
    l.emit(7);
    expect(seen).toEqual([7]);
    expect(errors).toHaveLength(1);
  });
});
