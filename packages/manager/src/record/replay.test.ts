import {
  type DecodedTraceRecord,
  encodeTraceHeader,
  encodeTraceRecord,
  readTrace,
  type TraceRecord,
} from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
import { ScriptedNetwork } from "../../test/network.js";
import { mixedFleet, playScript } from "../../test/scripted-run.js";
import type { JournalEntry } from "../journal.js";
import { defineFleet, type FleetSpec } from "../policy/fleet.js";
import { replay } from "./replay.js";

const fleet = mixedFleet;
const DECISIONS = new Set<JournalEntry["kind"]>(["scale", "start", "drain", "stop", "rollout"]);
const decisions = (journal: readonly JournalEntry[]) => journal.filter((e) => DECISIONS.has(e.kind));

/** A recorded live run on the harness: boots, rising and falling load, a crash, drains, config answers (one nack). */
async function recordedRun() {
  const records: TraceRecord[] = [];
  const h = harness(fleet, { fleetId: "f1ee7f1ee7f1ee7f1ee7f1ee7f1ee7f1", record: (r) => records.push(r) });
  h.manager.start();
  await h.settle();
  await playScript(h, { disconnectCrashed: true });
  h.manager.close();
  const bytes = toFile(records, h.manager.fleetId);
  const launches = h.driver
    .callsOf("start")
    .map((c) => ({ instanceId: c.instanceId, token: c.spec.env.FROCTAL_TOKEN }));
  return { bytes, journal: h.journal, records, launches };
}

function toFile(records: readonly TraceRecord[], fleetId: string, network = ""): Uint8Array {
  const parts = [
    encodeTraceHeader({ fleet: fleet.name, fleetId, nonceTag: "test", startedAt: 0, startedWall: 0, network }),
    ...records.map(encodeTraceRecord),
  ];
  return Buffer.concat(parts);
}

async function replayOf(bytes: Uint8Array, spec: FleetSpec) {
  const trace = readTrace(bytes);
  const h = trace.header;
  const start = { ...h, reservedGeneration: h.reservedGeneration, adopted: h.adopted };
  return replay({ fleet: spec, start, inputs: () => trace.inputs() });
}

describe("record and replay", () => {
  it("replays a run with a network driver: its answers, a refusal included, come from the trace", async () => {
    const onVip = defineFleet({
      ...fleet,
      network: (f) => ({
        services: { web: { vip: "10.77.0.10", port: 8080, backends: f.service("web").ready.map((i) => i.id) } },
      }),
    });
    const network = new ScriptedNetwork();
    network.auto = true;
    network.refuse("prepare", "the switch is busy");
    network.refuse("commit", "the bundle was refused");
    const records: TraceRecord[] = [];
    const h = harness(onVip, { network, fleetId: "f1ee7f1ee7f1ee7f1ee7f1ee7f1ee7f1", record: (r) => records.push(r) });
    h.manager.start();
    await h.settle();
    await playScript(h, { disconnectCrashed: true });
    h.manager.close();
    const live = decisions(h.journal);
    // The network took part, was refused once at prepare and once at commit, and committed the rest
    const onNetwork = h.manager.status().rollouts.filter((o) => o.instances.includes("network"));
    // (the script's router-6 refusing its first prepare aborts a generation the network is in too).
    expect(onNetwork.filter((o) => o.result === "aborted").map((o) => o.reason)).toEqual([
      "network refused generation 1: the switch is busy",
      "router-6 refused generation 3: no reason given",
    ]);
    expect(
      onNetwork.flatMap((o) => (o.result === "committed" ? o.results : [])).filter((r) => r.result === "failed"),
    ).toMatchObject([{ instance: "network", reason: "the bundle was refused" }]);
    const replayed = await replayOf(toFile(records, h.manager.fleetId, network.description), onVip);
    expect(decisions(replayed.journal)).toEqual(live);
    // Without the header's network the same trace replays to other decisions: nothing answers for it.
    const without = await replayOf(toFile(records, h.manager.fleetId), onVip);
    expect(decisions(without.journal)).not.toEqual(live);
  });

  it("records only what came from outside: guest frames, driver events, outcomes, tokens, tick boundaries", async () => {
    const { records } = await recordedRun();
    const kinds = new Set(records.map((r) => Object.keys(r).find((k) => k !== "at")));
    expect(kinds).toEqual(new Set(["tick", "token", "opened", "batch", "configAck", "closed", "driver", "outcome"]));
    // Times never go back.
    expect(records.every((r, i) => i === 0 || r.at! >= records[i - 1]!.at!)).toBe(true);
  });

  it("replays the recorded run to the same decisions, decision for decision, at the same times", async () => {
    const { bytes, journal, launches } = await recordedRun();
    const live = decisions(journal);
    // The run exercises every kind of decision, so the comparison means something.
    expect(new Set(live.map((e) => e.kind))).toEqual(DECISIONS);
    const replayed = await replayOf(bytes, fleet);
    expect(decisions(replayed.journal)).toEqual(live);
    expect(replayed.ticks).toBe(readAllTicks(bytes));
    // The same instances launched in the same order, each with the token the live run gave it.
    expect(launches.length).toBe(8);
    expect(replayed.launches).toEqual(launches);
  });

  it("replays a changed policy on the same trace to different decisions", async () => {
    const { bytes, journal } = await recordedRun();
    const capped = defineFleet({
      ...fleet,
      services: { ...fleet.services, web: { ...fleet.services.web!, max: 2 } },
    });
    const replayed = decisions((await replayOf(bytes, capped)).journal);
    const live = decisions(journal);
    expect(replayed).not.toEqual(live);
    // The first decision is the same (one web to start with); the cap shows where the live run scaled past 2.
    expect(replayed[0]).toEqual(live[0]);
    const webStarts = (d: readonly JournalEntry[]) =>
      d.filter((e) => e.kind === "start" && e.service === "web").map((e) => e.instance);
    // Capped at 2, it starts only web-3's replacement after the crash, not the live run's two more.
    expect(webStarts(live)).toEqual(["web-1", "web-3", "web-4", "web-5", "web-8"]);
    expect(webStarts(replayed)).toEqual(["web-1", "web-3", "web-4"]);
  });

  it("refuses a trace whose run began by re-adopting guests", async () => {
    const header = encodeTraceHeader({ fleet: "mixed", fleetId: "f", nonceTag: "t", adopted: ["web-1"] });
    const trace = readTrace(header);
    const start = { ...trace.header, adopted: trace.header.adopted };
    await expect(replay({ fleet, start, inputs: () => trace.inputs() })).rejects.toThrow(
      "FROCTAL_E_CONFIG: the recorded run began by re-adopting web-1; a replay begins with no guest running",
    );
  });
});

function readAllTicks(bytes: Uint8Array): number {
  let n = 0;
  for (const { record } of readTrace(bytes).records()) if ((record as DecodedTraceRecord).record === "tick") n++;
  return n;
}
