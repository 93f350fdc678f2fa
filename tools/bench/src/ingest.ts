/**
 * Benchmark 2 (issue "manager" (a)): signals/s from agents in separate
 * processes into the manager's store, with the derivations live, 100 signals
 * a batch. Wired as `froctal up` wires it (HTTP server, createAgentServer on
 * the manager's Ingest port, tickMs 2), with an in-process Driver that only
 * records: the manager starts N instances through it, and this benchmark
 * launches one real agent process per LaunchSpec, with the env it carries.
 * The ceiling is decodeAgentFrame alone over frames those agents wrote; in
 * between, "manager alone": raw WebSocket clients replay those frames for the
 * same instances, many per write, so the manager runs at its own limit.
 */

import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Manager } from "@froctal/manager";
import { systemClock } from "@froctal/primitives";
import { DEFAULT_LIMITS, encodeAgentFrame } from "@froctal/protocol";
import { createAgentServer } from "@froctal/server";
import { CountingDriver } from "@froctal/testkit";
import type { Report } from "./figures.js";
import { benchFleet, firstBatch, type Launched, launched, metricNames } from "./fleet.js";
import { Guest, Replay } from "./guests.js";
import { decodeCeiling, rateOver, sleep, waitFor } from "./measure.js";
import { replayHello, UNTHROTTLED } from "./protocol.js";

/** Agent processes; with 2 cores they share one while the manager has the other. */
const AGENTS = 4;
const BATCH = 100;
/** As `froctal up` runs the manager. */
const TICK_MS = 2;
const WARMUP_MS = 1_000;
const WINDOW_MS = 3_000;

export async function ingest(report: Report): Promise<void> {
  const http = createServer((_req, res) => res.end());
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", resolve));
  const { port } = http.address() as AddressInfo;
  const specs: Launched[] = [];
  const driver = new CountingDriver((spec) => specs.push(launched(spec)));
  const manager = new Manager({
    fleet: benchFleet({ replicas: AGENTS }),
    driver,
    clock: systemClock,
    managerUrl: `ws://127.0.0.1:${port}/agent`,
    tickMs: TICK_MS,
  });
  const server = createAgentServer({ ingest: manager.ingest, rate: UNTHROTTLED });
  server.attachWebSocket(http, { path: "/agent" });
  const guests: Guest[] = [];
  const replays: Replay[] = [];
  try {
    manager.start();
    await waitFor(() => specs.length === AGENTS, 5_000, `the manager to start ${AGENTS} instances`);
    for (const s of specs) guests.push(new Guest({ env: s.env, kind: "gauge", batch: BATCH, capture: 20 }));
    await Promise.all(guests.map((g) => g.connected));
    const instances = [...manager.store.instances.values()];
    await waitFor(() => instances.every((i) => i.phase === "ready"), 5_000, "every instance to be ready");
    report.say(
      `${AGENTS} agent processes x gauges in batches of ${BATCH} -> @froctal/server -> Manager (tickMs ${TICK_MS}, ` +
        `1 service, replicas from the "load" sum, loadMetric "load")`,
    );
    await sleep(WARMUP_MS);
    const stats = manager.stats;
    // Taken at the edge, less what still waits for its tick: every item pending now is one batch of BATCH samples.
    const applied = () => stats.ingest.samples + stats.ingest.events - stats.ticker.pending * BATCH;
    const ticks0 = stats.ticker.ticks;
    for (const g of guests) g.mark();
    const rate = await rateOver(applied, WINDOW_MS);
    const ticks = stats.ticker.ticks - ticks0;
    const reports = await Promise.all(guests.map((g) => g.stop()));
    const frames = reports.map((r) => r?.frames ?? []);
    const agentsCpu = reports.reduce((n, r) => n + (r?.cpu ?? 0), 0);

    // The same instances, now from raw clients replaying what their agents wrote.
    const { metricDecls, metricIds, metricValues } = firstBatch(metricNames(BATCH), 1);
    const preamble = encodeAgentFrame({
      batch: { metricDecls: [...metricDecls], metricIds: [...metricIds], metricValues: [...metricValues] },
    });
    for (const [i, s] of specs.entries()) {
      if ((frames[i]?.length ?? 0) === 0) continue;
      replays.push(
        new Replay(s.env.FROCTAL_MANAGER_URL!, replayHello(s.instanceId, s.token), frames[i] ?? [], [preamble]),
      );
    }
    await Promise.all(replays.map((r) => r.connected));
    await sleep(WARMUP_MS);
    const alone = await rateOver(applied, WINDOW_MS);
    for (const r of replays) r.kill();
    const ceiling = decodeCeiling(frames.flat(), DEFAULT_LIMITS, 400, 5);
    if (stats.ingest.undeclared > 0) report.say(`warning: ${stats.ingest.undeclared} samples of undeclared metrics`);

    report.add("applied into the store", rate.perSec, "signals/s", {
      target: { cmp: ">=", value: 1_000_000 },
      note:
        `CPU: manager ${Math.round(rate.cpu * 100)} %, ${AGENTS} agents ${Math.round(agentsCpu * 100)} % of a core; ` +
        `${Math.round((ticks * 1000) / rate.ms)} ticks/s`,
    });
    report.add("manager alone (replayed frames)", alone.perSec, "signals/s", {
      note: `${Math.round((alone.perSec / ceiling) * 100)} % of the ceiling; CPU: manager ${Math.round(alone.cpu * 100)} % of a core`,
    });
    report.add("decode ceiling (same frames)", ceiling, "signals/s");
    report.add("applied / ceiling", rate.perSec / ceiling, "share", { target: { cmp: ">=", value: 0.5 } });
    const failed = [...manager.store.instances.values()].filter((i) => i.phase !== "ready").length;
    if (failed > 0) report.say(`warning: ${failed} instance(s) were not ready at the end`);
  } finally {
    for (const g of guests) g.kill();
    for (const r of replays) r.kill();
    manager.close();
    await server.close();
    const closed = new Promise<void>((resolve) => http.close(() => resolve()));
    http.closeAllConnections();
    await closed;
  }
}
