import { FroctalError } from "@froctal/primitives";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { MIN_PROTOCOL_VERSION, negotiateVersion, PROTOCOL_VERSION } from "./version.js";

const range = (minVersion: number, maxVersion: number) => ({ minVersion, maxVersion });

function refusal(fn: () => unknown): FroctalError {
  try {
    fn();
  } catch (error) {
    if (error instanceof FroctalError) return error;
    throw new Error(`expected a FroctalError, got ${String(error)}`, { cause: error });
  }
  throw new Error("expected a refusal, but a version was chosen");
}

describe("negotiateVersion", () => {
  it.each([
    [range(1, 3), range(2, 5), 3],
    [range(2, 5), range(1, 3), 3],
    [range(1, 10), range(4, 6), 6],
    [range(4, 6), range(1, 10), 6],
    [range(1, 2), range(2, 4), 2],
    [range(7, 7), range(7, 7), 7],
  ])("peer %o and ours %o share %i at most", (peer, ours, chosen) => {
    expect(negotiateVersion(peer, ours)).toBe(chosen);
  });

  it("speaks MIN_PROTOCOL_VERSION..PROTOCOL_VERSION by default", () => {
    expect(MIN_PROTOCOL_VERSION).toBeLessThanOrEqual(PROTOCOL_VERSION);
    expect(negotiateVersion(range(1, 1000))).toBe(PROTOCOL_VERSION);
    expect(negotiateVersion(range(MIN_PROTOCOL_VERSION, MIN_PROTOCOL_VERSION))).toBe(MIN_PROTOCOL_VERSION);
    const err = refusal(() => negotiateVersion(range(PROTOCOL_VERSION + 1, PROTOCOL_VERSION + 5)));
    expect(err.message).toContain(`${MIN_PROTOCOL_VERSION}..${PROTOCOL_VERSION}`);
  });

  it.each([
    [range(1, 2), range(3, 4)],
    [range(3, 4), range(1, 2)],
    [range(5, 9), range(10, 10)],
  ])("refuses disjoint ranges %o and %o, naming both", (peer, ours) => {
    const err = refusal(() => negotiateVersion(peer, ours));
    expect(err.code).toBe("FROCTAL_E_VERSION");
    expect(err.retryable).toBe(false);
    expect(err.message).toContain(`peer speaks protocol versions ${peer.minVersion}..${peer.maxVersion}`);
    expect(err.message).toContain(`this side ${ours.minVersion}..${ours.maxVersion}`);
  });

  it("picks the highest version both ranges hold, or refuses when they hold none", () => {
    const bound = fc.integer({ min: 0, max: 12 });
    fc.assert(
      fc.property(bound, bound, bound, bound, (a, b, c, d) => {
        const peer = range(a, b);
        const ours = range(c, d);
        let best = -1;
        for (let v = 0; v <= 12; v++) {
          if (v >= a && v <= b && v >= c && v <= d) best = v;
        }
        if (best < 0) {
          expect(refusal(() => negotiateVersion(peer, ours)).code).toBe("FROCTAL_E_VERSION");
        } else {
          expect(negotiateVersion(peer, ours)).toBe(best);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
