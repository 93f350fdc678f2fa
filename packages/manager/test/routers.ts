/**
 * The two-router fleet the rollout tests share: every router runs the mode
 * router-1 announces, so a change reaches both together or neither; and what
 * a fake guest was asked to prepare.
 */
import type { FakeAgent } from "@froctal/testkit";
import { defineFleet } from "../src/policy/fleet.js";

const utf8 = new TextDecoder();

export const routerFleet = defineFleet({
  name: "net",
  services: {
    router: {
      image: "router.js",
      replicas: 2,
      config: (fleet, instance) => ({
        mode: fleet.instance("router-1")?.fact<string>("mode") ?? "base",
        self: instance.id,
      }),
    },
  },
});

/** The prepares pushed to a guest, in order, with their configuration decoded. */
export const prepares = (a: FakeAgent) =>
  a
    .session!.sent("prepare")
    .map((p) => ({ generation: Number(p.generation), config: utf8.decode(p.config as Uint8Array) }));

/** A router's configuration as canonical JSON. */
export const json = (mode: string, self: string) => JSON.stringify({ mode, self });
