/**
 * The traces of the rollout property tests (rollout-agent.property.test.ts):
 * a routers-shaped fleet (router-1's network is routed by every other router,
 * router-2's MTU fact sets the MTU of routers 1 and 3, so one fact changes
 * several instances' configuration at once) and the steps a random trace is
 * made of.
 */
import { defineFleet } from "@froctal/manager";
import fc from "fast-check";

export const ROUTERS = ["router-1", "router-2", "router-3", "router-4"] as const;
export const PREFIXES = ["10.1.0.0/24", "10.2.0.0/24", "10.3.0.0/24"] as const;
export const MTUS = [1500, 9000] as const;
export const TIMEOUT_MS = 5_000;

/** What a router should run, given router-1's network and router-2's MTU as the manager knows them. */
export function desired(id: string, prefix: string | undefined, mtu: number | undefined): object {
  const routes = id === "router-1" || prefix === undefined ? [] : [{ prefix, via: "router-1" }];
  return id === "router-1" || id === "router-3" ? { routes, mtu: mtu ?? 1500, self: id } : { routes, self: id };
}

export const fleet = defineFleet({
  name: "net",
  services: {
    router: {
      image: "router.js",
      replicas: ROUTERS.length,
      config: (f, self) =>
        desired(
          self.id,
          f.instance("router-1")?.devices.get("eth1")?.properties.address,
          f.instance("router-2")?.fact<number>("mtu"),
        ),
    },
  },
});

/** How a guest answers the commands it handles in one step. */
export type Outcome = "accept" | "refuse" | "fail";

export type Step =
  | { readonly kind: "prefix"; readonly value: string }
  | { readonly kind: "mtu"; readonly value: number }
  | { readonly kind: "answer"; readonly who: number; readonly frames: number; readonly outcome: Outcome }
  | { readonly kind: "round"; readonly outcome: Outcome }
  | { readonly kind: "disconnect"; readonly who: number; readonly lose: boolean }
  | { readonly kind: "reconnect"; readonly who: number }
  | { readonly kind: "elapse"; readonly ms: number }
  | { readonly kind: "restart"; readonly lose: boolean };

const who = fc.integer({ min: 0, max: ROUTERS.length - 1 });
export const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("prefix" as const), value: fc.constantFrom(...PREFIXES) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("mtu" as const), value: fc.constantFrom(...MTUS) }) },
  {
    weight: 10,
    arbitrary: fc.record({
      kind: fc.constant("answer" as const),
      who,
      frames: fc.integer({ min: 1, max: 3 }),
      outcome: fc.constantFrom<Outcome>("accept", "accept", "refuse", "fail"),
    }),
  },
  {
    weight: 3,
    // Everyone handles everything; now and then every commit handled in the round fails.
    arbitrary: fc.record({
      kind: fc.constant("round" as const),
      outcome: fc.constantFrom<Outcome>("accept", "accept", "fail"),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant("disconnect" as const), who, lose: fc.boolean() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("reconnect" as const), who }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant("elapse" as const),
      ms: fc.constantFrom(100, 1_000, 2_500, 5_000, 30_000),
    }),
  },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("restart" as const), lose: fc.boolean() }) },
);
