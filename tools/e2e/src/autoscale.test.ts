/**
 * The self-scaling scenario end to end, on real processes: the froctal binary
 * runs the autoscale example fleet; HTTP load through the lb guest makes the
 * web service scale out, with the lb's backend set following; dropping the load
 * scales it in with drain, without one failed request; stopping the manager
 * leaves no guest behind.
 */
import { afterAll, expect, test } from "vitest";
import { driveLoad, eventually, guestsOf, type RunningFleet, upFleet } from "./fleet.js";

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

  let rate = 130; // ~3.25 web instances' worth at 40 requests/s each
  const load = driveLoad(lbUrl, () => rate);

  const webReady = async () => {
    const web = (await f.status()).services.find((s) => s.name === "web")!;
    return web.instances.filter((i) => i.phase === "ready").map((i) => i.id);
  };
  const scaledOut = await eventually(async () => {
    const ready = await webReady();
    return ready.length >= 3 ? ready : undefined;
  }, "web to scale out to at least 3 ready instances");
  expect(scaledOut.length).toBeGreaterThanOrEqual(3);

  // The lb follows: within a moment every ready web instance is serving, and only those.
  await eventually(async () => {
    const ready = new Set(await webReady());
    const recent = new Set(load.result.servedBy.slice(-150));
    const same = ready.size === recent.size && [...ready].every((id) => recent.has(id));
    return same ? true : undefined;
  }, "the lb's backend set to match the ready web instances");

  await new Promise((r) => setTimeout(r, 2_000));
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

  const status = await f.status();
  const journal = status.journal.map((e) => e.message).join("\n");
  expect(journal).toMatch(/draining web-\d+/);
  expect(journal).toMatch(/stopping web-\d+: it finished draining/);
  expect(load.result.failures.slice(0, 5)).toEqual([]);
  expect(load.result.failed).toBe(0);
  expect(load.result.ok).toBeGreaterThan(300);

  expect(guestsOf(f.url).length).toBe(2);
  const code = await f.stop();
  fleet = undefined;
  expect(code).toBe(0);
  expect(guestsOf(f.url)).toEqual([]);
});
