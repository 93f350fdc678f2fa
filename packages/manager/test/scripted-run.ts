/**
 * The scripted run the determinism and replay tests share: a fleet of web
 * guests and routers configured from them, and a trace of inputs that makes
 * every kind of decision (boots, rising and falling load, a crash, drains,
 * config answers with one nack).
 */
import { drained } from "@froctal/testkit";
import { defineFleet, type ServiceView } from "../src/policy/fleet.js";
import { type Harness, webFleet } from "./harness.js";

export const mixedFleet = defineFleet({
  name: "mixed",
  services: {
    web: { ...webFleet.services.web!, drainTimeoutMs: 3_000 },
    router: {
      image: "router.js",
      replicas: (_s: ServiceView, f) => Math.max(1, f.service("web").ready.length - 1),
      config: (f, i) => ({ peers: f.service("web").ready.map((w) => w.id), self: i.id }),
    },
  },
});

/** Plays the script on a started harness; `disconnectCrashed` also closes the crashed guest's session, as a real one would. */
export async function playScript(h: Harness, options: { readonly disconnectCrashed: boolean }): Promise<void> {
  const answered = new Map<string, number>();
  /** Every connected guest answers what it was sent since last time; router-6 refuses its first prepare. */
  const answer = async () => {
    for (const id of [...h.manager.store.instances.keys()]) {
      const a = h.agent(id);
      const frames = a.session?.frames ?? [];
      for (const f of frames.slice(answered.get(id) ?? 0)) {
        if (f.prepare) a.answer(id === "router-6" && !answered.has("nacked") ? "nacked" : "prepared");
        if (f.prepare && id === "router-6") answered.set("nacked", 1);
        if (f.commit) a.answer("committed");
        if (f.drain) a.send({ events: [drained()] });
      }
      answered.set(id, frames.length);
    }
    await h.settle();
  };
  const bootNew = async (metrics: Record<string, number>) => {
    for (const id of h.started())
      if (h.agent(id).session === undefined && h.manager.store.instance(id)) h.boot(id, metrics);
    await h.settle();
  };
  await bootNew({ inflight: 35 });
  for (let t = 0; t < 20; t++) {
    await bootNew({ inflight: 1 });
    await answer();
    await h.elapse(100);
  }
  h.driver.crash("web-3");
  if (options.disconnectCrashed) h.agent("web-3").disconnect("the guest crashed");
  for (let t = 0; t < 30; t++) {
    await bootNew({ inflight: 1 });
    await answer();
    await h.elapse(100);
  }
  h.agent("web-1").send({ metrics: { inflight: 4 } });
  for (let t = 0; t < 100; t++) {
    await answer();
    await h.elapse(100);
  }
}
