import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { Outcomes } from "./outcomes.js";

function gate(): { readonly promise: Promise<void>; open(): void; fail(error: Error): void } {
  let open!: () => void;
  let fail!: (error: Error) => void;
  const promise = new Promise<void>((resolve, reject) => {
    open = resolve;
    fail = reject;
  });
  return { promise, open, fail };
}

describe("outcomes by action key", () => {
  it("joins a key in flight and answers an answered key without acting again", async () => {
    const outcomes = new Outcomes();
    const g = gate();
    let runs = 0;
    const act = () => {
      runs++;
      return g.promise;
    };
    const first = outcomes.run("start:web-1", "web-1", act);
    const second = outcomes.run("start:web-1", "web-1", act);
    g.open();
    expect(await first).toBeUndefined();
    expect(await second).toBeUndefined();
    expect(await outcomes.run("start:web-1", "web-1", act)).toBeUndefined();
    expect(runs).toBe(1);
  });

  it("runs a start again once the guest was stopped or has exited, and a stop again once it was started", async () => {
    const outcomes = new Outcomes();
    const runs: string[] = [];
    const act = (what: string) => async () => {
      runs.push(what);
    };
    await outcomes.run("start:web-1", "web-1", act("start"));
    await outcomes.run("stop:web-1", "web-1", act("stop"));
    await outcomes.run("start:web-1", "web-1", act("start"));
    await outcomes.run("stop:web-1", "web-1", act("stop"));
    await outcomes.run("start:web-1", "web-1", act("start"));
    outcomes.exited("web-1");
    await outcomes.run("start:web-1", "web-1", act("start"));
    await outcomes.run("start:web-1", "web-1", act("start"));
    expect(runs).toEqual(["start", "stop", "start", "stop", "start", "start"]);
  });

  it("answers a failure with its error and runs the key again when asked again", async () => {
    const outcomes = new Outcomes();
    let runs = 0;
    const failing = async () => {
      runs++;
      throw new FroctalError("FROCTAL_E_CONFIG", "no such image");
    };
    const error = await outcomes.run("start:web-1", "web-1", failing);
    expect(error?.code).toBe("FROCTAL_E_CONFIG");
    expect(error?.sentence).toBe("no such image");
    await outcomes.run("start:web-1", "web-1", failing);
    expect(runs).toBe(2);
  });

  it("turns a non-froctal failure into FROCTAL_E_INTERNAL", async () => {
    const error = await new Outcomes().run("stop:web-1", "web-1", () => Promise.reject(new Error("boom")));
    expect(error?.code).toBe("FROCTAL_E_INTERNAL");
    expect(error?.sentence).toBe("boom");
  });
});
