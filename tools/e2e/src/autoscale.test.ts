/**
 * The self-scaling scenario end to end, on real processes: the froctal binary
 * runs the autoscale example fleet; HTTP load through the lb guest makes the
 * web service scale out to exactly the replicas the policy asks for, with the
 * lb's backend set following; dropping the load scales it in with drain,
 * without one failed request, neither at the client nor behind the lb (whose
 * retries would hide a guest stopped with work in hand: its own counters say
 * every upstream attempt succeeded); stopping the manager leaves no guest behind.
 */
import { afterAll, expect, test } from "vitest";
import {
  driveLoad,
  eventually,
  expectNoFailedRequest,
  guestsOf,
  journalOf,
  lbStats,
  type RunningFleet,
  upFleet,
} from "./fleet.js";

let fleet: RunningFleet | undefined;
afterAll(async () => {
  await fleet?.stop();
});

test("scales out and in under load with zero failed requests, and leaves nothing behind", async () => {
  fleet = await upFleet("apps/examples/autoscale");
  const f = fleet;
  const lbUrl = await eventually(async () => {
    const lb = (await f.status()).services.find((s) => s.name === "lb")!;
    const ready = lb.instances.find((i) => i.phase === "ready" && typeof i.endpoint === "string");
    return ready?.endpoint as string | undefined;
  }, "the lb guest to be ready");

  // The lb answers 503 until its first backend set is committed; start the load once it serves.
  await eventually(async () => ((await fetch(`${lbUrl}/?work=1`)).status === 200 ? true : undefined), "a first 200");

  // What the lb has counted so far (the probes above may have met its 503 before its first backend set).
  const before = await lbStats(lbUrl);
  expect(before.upstreamFailures).toBe(0);

  // 140 requests/s at 40 per instance: the policy asks for ceil(3.5) = 4, with room either side
  // (3 would be at most 120, 5 at least 161) for the measured rate to wobble.
  let rate = 140;
  const load = driveLoad(lbUrl, () => rate);

  const web = async () => (await f.status()).services.find((s) => s.name === "web")!;
  const webReady = async () => (await web()).instances.filter((i) => i.phase === "ready").map((i) => i.id);
  await eventually(async () => {
    const w = await web();
    const ready = w.instances.filter((i) => i.phase === "ready");
    return w.target === 4 && w.instances.length === 4 && ready.length === 4 ? true : undefined;
  }, "web to scale out to 4 ready instances");

  // The lb follows: within a moment every ready web instance is serving, and only those.
  await eventually(async () => {
    const ready = new Set(await webReady());
    const recent = new Set(load.result.servedBy.slice(-150));
    const same = ready.size === recent.size && [...ready].every((id) => recent.has(id));
    return same ? true : undefined;
  }, "the lb's backend set to match the ready web instances");

  await new Promise((r) => setTimeout(r, 2_000));
  const held = await web();
  expect([held.target, held.instances.length]).toEqual([4, 4]);
  rate = 10;
  await eventually(
    async () => {
      const web = (await f.status()).services.find((s) => s.name === "web")!;
      return web.instances.length === 1 && web.target === 1 ? true : undefined;
    },
    "web to scale in to one instance",
    60_000,
  );
  await load.stop();

  // Every journal entry, from the manager's log (status keeps only the latest few).
  const journal = journalOf(f);
  // Out to 4 and never beyond; in to 1, each stop after a drain.
  const targets = journal.flatMap((m) => /^web: \d+ -> (\d+) replicas/.exec(m)?.[1] ?? []).map(Number);
  expect(Math.max(...targets)).toBe(4);
  expect(targets.at(-1)).toBe(1);
  const drained = journal.filter((m) => /^stopping web-\d+: it finished draining/.test(m));
  const stopped = journal.filter((m) => /^stopping web-\d+/.test(m));
  expect(drained.length).toBe(3);
  expect(stopped).toEqual(drained);
  expect(load.result.ok).toBeGreaterThan(300);
  await expectNoFailedRequest(lbUrl, before, load.result);

  expect(guestsOf(f.url).length).toBe(2);
  const code = await f.stop();
  fleet = undefined;
  expect(code).toBe(0);
  expect(guestsOf(f.url)).toEqual([]);
});
