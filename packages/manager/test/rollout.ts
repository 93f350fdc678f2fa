/**
 * The rollout's unit-test world: two ready routers with fake sessions, the
 * real frame door (perform.ts's command), a virtual clock, and answers that
 * carry each push's own nonce.
 */
import { VirtualClock } from "@froctal/primitives";
import { configAck, FakeSession } from "@froctal/testkit";
import { command } from "../src/execute/perform.js";
import type { Configure } from "../src/reconcile/action.js";
import { type Participant, type Party, Rollout, type RolloutOutcome } from "../src/rollout/rollout.js";
import { Instance } from "../src/store/instance.js";

/** Every party here is a guest: each step is its frame. */
export const configureGuest = (party: Party, step: Configure): boolean => command(party as Instance, step);

export function setup(lastGeneration = 0) {
  const clock = new VirtualClock();
  const outcomes: RolloutOutcome[] = [];
  const rollout = new Rollout({
    clock,
    timeoutMs: 5_000,
    lastGeneration,
    onOutcome: (o) => outcomes.push(o),
    configure: configureGuest,
  });
  const make = (id: string, committed = '{"v":0}') => {
    const instance = new Instance(id, "router", 1, "t", 0);
    instance.moveTo("ready");
    instance.recordCommit(0, committed);
    const session = new FakeSession(id, "s");
    instance.session = session;
    return { instance, session };
  };
  const a = make("a");
  const b = make("b");
  const both = (json: string): Participant[] => [
    { party: a.instance, json },
    { party: b.instance, json },
  ];
  return { clock, outcomes, rollout, a, b, both };
}

/** The nonce of the latest push of `gen` to an instance: every push has its own, and answers carry it back. */
export function nonceOf(instance: Instance, gen: number): string {
  const pushes = (instance.session as FakeSession).sent("prepare").filter((p) => Number(p.generation) === gen);
  return String(pushes.at(-1)?.nonce);
}

export const ack = (
  rollout: Rollout,
  instance: Instance,
  status: "prepared" | "committed" | "nacked",
  gen: number,
  reason = "",
) => rollout.acknowledge(instance, configAck(gen, nonceOf(instance, gen), status, reason));
