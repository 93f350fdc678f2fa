import { describe, expect, it } from "vitest";
import { absorb } from "./absorb.js";

/** An async source the test feeds by hand, recording what the stream asks of it. */
function manualSource<T>() {
  const log: string[] = [];
  const waiting: ((r: IteratorResult<T>) => void)[] = [];
  const failing: ((e: unknown) => void)[] = [];
  const iterable: AsyncIterable<T> = {
    [Symbol.asyncIterator]: () => ({
      next: () => {
        log.push("next");
        return new Promise<IteratorResult<T>>((resolve, reject) => {
          waiting.push(resolve);
          failing.push(reject);
        });
      },
      return: async () => {
        log.push("return");
        return { done: true, value: undefined };
      },
    }),
  };
  return {
    iterable,
    log,
    send(value: T) {
      failing.shift();
      waiting.shift()!({ done: false, value });
    },
    end() {
      failing.shift();
      waiting.shift()!({ done: true, value: undefined });
    },
    fail(error: unknown) {
      waiting.shift();
      failing.shift()!(error);
    },
  };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("absorb", () => {
  it("delivers every value of an async generator in order, then ends as done", async () => {
    async function* numbers() {
      yield 1;
      yield 2;
      yield 3;
    }
    const stream = absorb(numbers());
    const seen: number[] = [];
    stream.subscribe((v) => seen.push(v));
    expect(await stream.ended).toEqual({ reason: "done" });
    expect(seen).toEqual([1, 2, 3]);
  });

  it("pulls only once someone listens, and not while nobody does", async () => {
    const source = manualSource<string>();
    const stream = absorb(source.iterable);
    await settle();
    expect(source.log).toEqual([]);
    const seen: string[] = [];
    const stop = stream.subscribe((v) => seen.push(v));
    await settle();
    expect(source.log).toEqual(["next"]);
    source.send("a");
    await settle();
    expect(seen).toEqual(["a"]);
    expect(source.log).toEqual(["next", "next"]);
    stop();
    source.send("b"); // arrived for nobody: kept, not dropped
    await settle();
    expect(source.log).toEqual(["next", "next"]);
    const later: string[] = [];
    stream.subscribe((v) => later.push(v));
    await settle();
    expect(later).toEqual(["b"]);
    expect(seen).toEqual(["a"]);
    expect(source.log).toEqual(["next", "next", "next"]);
  });

  it("dispose stops pulling, calls return() once and ends as disposed", async () => {
    const source = manualSource<number>();
    const stream = absorb(source.iterable);
    const seen: number[] = [];
    stream.subscribe((v) => seen.push(v));
    await settle();
    stream.dispose();
    stream.dispose();
    source.send(1);
    await settle();
    expect(seen).toEqual([]);
    expect(source.log).toEqual(["next", "return"]);
    expect(await stream.ended).toEqual({ reason: "disposed" });
    expect(stream.subscribe(() => {})).toBeTypeOf("function");
  });

  it("dispose from a listener runs the generator's finally at its yield", async () => {
    let cleaned = false;
    let pulledPastFirst = false;
    async function* gen() {
      try {
        yield 1;
        pulledPastFirst = true;
        yield 2;
      } finally {
        cleaned = true;
      }
    }
    const stream = absorb(gen());
    const seen: number[] = [];
    stream.subscribe((v) => {
      seen.push(v);
      stream.dispose();
    });
    expect(await stream.ended).toEqual({ reason: "disposed" });
    await settle();
    expect(seen).toEqual([1]);
    expect(cleaned).toBe(true);
    expect(pulledPastFirst).toBe(false);
  });

  it("ends with the source's error and does not call return()", async () => {
    const source = manualSource<number>();
    const stream = absorb(source.iterable);
    stream.subscribe(() => {});
    await settle();
    const boom = new Error("socket reset");
    source.fail(boom);
    expect(await stream.ended).toEqual({ reason: "error", error: boom });
    expect(source.log).toEqual(["next"]);
  });

  it("a throwing listener ends the stream with its error and releases the source", async () => {
    const source = manualSource<number>();
    const stream = absorb(source.iterable);
    const after: number[] = [];
    const bug = new Error("listener bug");
    stream.subscribe(() => {
      throw bug;
    });
    stream.subscribe((v) => after.push(v));
    await settle();
    source.send(1);
    expect(await stream.ended).toEqual({ reason: "error", error: bug });
    expect(after).toEqual([]);
    expect(source.log).toEqual(["next", "return"]);
  });

  it("never calls a listener after its disposer, even mid-delivery", async () => {
    const source = manualSource<number>();
    const stream = absorb(source.iterable);
    const seen: string[] = [];
    let stopSecond = (): void => {};
    stream.subscribe((v) => {
      seen.push(`first ${v}`);
      stopSecond();
      stopSecond();
    });
    stopSecond = stream.subscribe((v) => seen.push(`second ${v}`));
    await settle();
    source.send(1);
    await settle();
    source.send(2);
    await settle();
    expect(seen).toEqual(["first 1", "first 2"]);
  });

  it("does not let a failing return() escape", async () => {
    const iterable: AsyncIterable<number> = {
      [Symbol.asyncIterator]: () => ({
        next: () => new Promise<IteratorResult<number>>(() => {}),
        return: () => Promise.reject(new Error("cannot close")),
      }),
    };
    const stream = absorb(iterable);
    stream.dispose();
    expect(await stream.ended).toEqual({ reason: "disposed" });
  });
});
