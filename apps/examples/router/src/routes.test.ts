import { describe, expect, it } from "vitest";
import { checkRoutes, describeRoutes } from "./routes.js";

const state = {
  interfaces: new Map([["eth0", { address: "10.0.0.2/24" }]]),
  refused: new Set(["10.9.0.0/24"]),
};

describe("checkRoutes", () => {
  it("accepts a table it can run", () => {
    const routes = [
      { prefix: "10.1.0.0/24", via: "router-a-1", gateway: "10.0.0.1" },
      { prefix: "10.3.0.0/24", via: "router-c-3" },
    ];
    expect(checkRoutes({ routes }, state)).toEqual({ routes });
    expect(checkRoutes({ routes: [] }, state)).toEqual({ routes: [] });
  });

  it("refuses, with a sentence, what it cannot or will not run", () => {
    const refusal = (config: unknown) => (checkRoutes(config, state) as { refusal?: string }).refusal;
    expect(refusal(null)).toMatch(/must be \{ routes/);
    expect(refusal({ routes: [{ prefix: "10.1.0.1/24", via: "a" }] })).toMatch(/is not a network prefix/);
    expect(refusal({ routes: [{ prefix: "10.1.0.0/24", via: "" }] })).toMatch(/names no router/);
    expect(refusal({ routes: [{ prefix: "10.9.0.0/24", via: "a" }] })).toBe(
      "prefix 10.9.0.0/24 is refused by local policy (refuse.json)",
    );
    expect(refusal({ routes: [{ prefix: "10.1.0.0/24", via: "a", gateway: "10.7.0.1" }] })).toBe(
      "gateway 10.7.0.1 for 10.1.0.0/24 is on none of this router's networks",
    );
    const twice = { prefix: "10.1.0.0/24", via: "a" };
    expect(refusal({ routes: [twice, twice] })).toBe("two routes to 10.1.0.0/24");
  });

  it("describes a table in one line", () => {
    expect(describeRoutes([])).toBe("no routes");
    expect(describeRoutes([{ prefix: "10.1.0.0/24", via: "router-a-1", gateway: "10.0.0.1" }])).toBe(
      "10.1.0.0/24 via router-a-1 (10.0.0.1)",
    );
  });
});
