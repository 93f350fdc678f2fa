/**
 * The dashboard as a person sees it, in a real browser (Debian's chromium,
 * driven by playwright-core), on the autoscale example under load: the hosts
 * strip shows the embedded host "local" up and running every guest, each
 * instance row shows its host, the web service's ready count goes from 1 up to
 * 4 on the page and the decision with its reason appears in the timeline, word
 * for word as the manager logged it,
 * over one stream and without a reload; stopping the manager with the page
 * still open exits cleanly, and the page says it lost the stream.
 */
import { existsSync, mkdtempSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, expect, test } from "vitest";
import { driveLoad, eventually, type RunningFleet, upFleet } from "./fleet.js";

const CHROMIUM = "/usr/bin/chromium";

let fleet: RunningFleet | undefined;
let browser: Browser | undefined;
afterAll(async () => {
  await browser?.close();
  await fleet?.stop();
});

test("shows the web service scaling out under load, and the decision with its reason, live", async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `${CHROMIUM} is missing: run \`sh tools/setup/ensure.sh --test\` (it installs Debian's chromium and fonts-dejavu-core)`,
    );
  }
  fleet = await upFleet("apps/examples/autoscale");
  const f = fleet;
  browser = await chromium.launch({ executablePath: CHROMIUM });
  const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
  const streams: string[] = [];
  page.on("request", (r) => {
    if (new URL(r.url()).pathname === "/dashboard/stream") streams.push(r.url());
  });
  let navigations = 0;
  page.on("framenavigated", (frame) => {
    if (frame === page.mainFrame()) navigations++;
  });
  await page.goto(f.url);
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is what a person sees, not the DOM's.
  const text = (selector: string) => page.locator(selector).innerText();
  await eventually(async () => ((await text("[data-testid=connection]")) === "live" ? true : undefined), "live");
  await eventually(
    async () => ((await page.locator("[data-testid=ready-web]").count()) === 1 ? true : undefined),
    "the web service's card",
  );
  await eventually(
    async () => ((await text("[data-testid=ready-web]")) === "1" ? true : undefined),
    "the page to show 1 ready web instance",
  );
  expect(await text("[data-testid=target-web]")).toBe("1");
  // One host, the embedded "local", up (in green), and the web instance's row names it.
  expect(await page.locator("[data-testid=hosts] [data-host] b").allInnerTexts()).toEqual(["local"]);
  // No network driver: no network line.
  expect(await page.locator("[data-testid=network]").count()).toBe(0);
  expect(await text("[data-host=local] .host-status")).toBe("up");
  // Evaluated as text in the page: this package compiles without the DOM's types.
  const colour = 'getComputedStyle(document.querySelector("[data-host=local] .host-status")).color';
  expect(await page.evaluate(colour)).toBe("rgb(23, 97, 42)");
  expect(await page.locator("[data-service=web] tbody td.host").allInnerTexts()).toEqual(["local"]);

  const lbUrl = await eventually(async () => {
    const lb = (await f.status()).services.find((s) => s.name === "lb")!;
    return lb.instances.find((i) => i.phase === "ready" && typeof i.endpoint === "string")?.endpoint as
      | string
      | undefined;
  }, "the lb guest to be ready");
  await eventually(async () => ((await fetch(`${lbUrl}/?work=1`)).status === 200 ? true : undefined), "a first 200");
  // 140 requests/s at 40 per instance: the policy asks for 4 (see autoscale.test.ts).
  const load = driveLoad(lbUrl, () => 140);
  const shot = join(mkdtempSync(join(tmpdir(), "froctal-dashboard-")), "dashboard.png");
  try {
    await eventually(
      async () =>
        (await text("[data-testid=ready-web]")) === "4" && (await text("[data-testid=target-web]")) === "4"
          ? true
          : undefined,
      "the page to show 4 of 4 web instances ready",
      60_000,
    );
    expect(await page.locator("[data-service=web] tbody tr").count()).toBe(4);
    expect(await page.locator("[data-service=web] tbody td.host").allInnerTexts()).toEqual([
      "local",
      "local",
      "local",
      "local",
    ]);
    // Four web guests and the lb, all on the one host.
    expect(await text("[data-host=local]")).toBe(`local up ${availableParallelism()} cpus · 5 guests`);
    // Two more seconds under load give the sparklines a shape for the screenshot (a test artifact).
    await new Promise((r) => setTimeout(r, 2_000));
    await page.locator("main").screenshot({ path: shot });
    console.log(`dashboard screenshot: ${shot}`);
  } finally {
    await load.stop();
  }

  // The first scale-out decision, as the manager logged it, is a line of the page's timeline.
  const decided = f.logs.flatMap((l) => {
    try {
      const msg = (JSON.parse(l) as { msg?: string }).msg ?? "";
      return /^web: 1 -> \d+ replicas \(.+\)$/.test(msg) ? [msg] : [];
    } catch {
      return [];
    }
  });
  expect(decided.length).toBe(1);
  const timeline = await page.locator("[data-testid=timeline] .msg").allInnerTexts();
  expect(timeline).toContain(decided[0]);

  // One page load and one stream for the whole run: everything above arrived live.
  expect(navigations).toBe(1);
  expect(streams.length).toBe(1);

  // The manager stops (its port waits for no open stream), and the page says the stream is gone.
  const code = await f.stop();
  fleet = undefined;
  expect(code).toBe(0);
  await eventually(
    async () => ((await text("[data-testid=connection]")) === "reconnecting…" ? true : undefined),
    "the page to notice the manager is gone",
  );
});
