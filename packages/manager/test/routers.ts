/**
 * The two-router fleet the rollout tests share: every router runs the mode
 * router-1 announces, so a change reaches both together or neither; and what
 * a fake guest was asked to prepare.
 */
import type { FakeAgent } from "@froctal/testkit";
import { expect } from "vitest";
import { defineFleet } from "../src/policy/fleet.js";
import { harness } from "./harness.js";

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

/** Two routers up, connected, and on their first configuration. */
export async function twoRoutersRunning() {
  const h = harness(routerFleet);
  h.manager.start();
  await h.settle();
  const r1 = h.boot("router-1");
  const r2 = h.boot("router-2");
  await h.settle();
  // Until both were connected a generation could not reach them; the retry comes within a second.
  for (let i = 0; i < 20 && prepares(r2).length === 0; i++) await h.elapse(100);
  expect(prepares(r1)).toHaveLength(1);
  for (const status of ["prepared", "committed"] as const) {
    r1.answer(status);
    r2.answer(status);
    await h.settle();
  }
  const i1 = h.manager.store.instance("router-1")!;
  const i2 = h.manager.store.instance("router-2")!;
  expect([i1.committedJson, i2.committedJson]).toEqual([json("base", "router-1"), json("base", "router-2")]);
  return { h, r1, r2, i1, i2 };
}
