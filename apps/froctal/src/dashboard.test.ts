/**
 * The dashboard on `froctal up`'s port (the built binary, real guests): the
 * page and its assets from @froctal/dashboard's build and nothing else, the
 * stream's first snapshot, a stop with a stream still open, and the token a
 * non-loopback bind asks for. What a person sees is tools/e2e's dashboard.test.ts.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import type { Snapshot } from "@froctal/dashboard/snapshot";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { allReady, bin, type RunningFleet, startFleet, webFleet } from "../test/running-fleet.js";

/** Reads a stream's events until `count` data events came; returns them parsed, and the response's headers. */
async function firstEvents(url: string, count: number): Promise<{ type: string | null; events: unknown[] }> {
  const controller = new AbortController();
  const res = await fetch(url, { signal: controller.signal });
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const events: unknown[] = [];
  while (events.length < count) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    for (let end = text.indexOf("\n\n"); end >= 0; end = text.indexOf("\n\n")) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      if (block.startsWith("data: ")) events.push(JSON.parse(block.slice(6)));
    }
  }
  controller.abort();
  return { type: res.headers.get("content-type"), events };
}

describe("on a loopback bind", () => {
  let fleet: RunningFleet;
  beforeAll(async () => {
    fleet = await startFleet(webFleet("dash", 2));
    await allReady(fleet, "web", 2);
  }, 30_000);
  afterAll(() => fleet?.stop(), 30_000);

  test("serves the built page at / and its assets, and no other file", async () => {
    const page = await fetch(new URL("/", fleet.url));
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toBe("text/html; charset=utf-8");
    const html = await page.text();
    expect(html).toContain('<div id="app"></div>');
    const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]!);
    expect(assets.map((a) => a.replace(/-[\w-]+\./, "-HASH.")).sort()).toEqual([
      "/assets/index-HASH.css",
      "/assets/index-HASH.js",
    ]);
    for (const asset of assets) expect((await fetch(new URL(asset, fleet.url))).status).toBe(200);
    for (const path of ["/assets/../package.json", "/src/main.tsx", "/assets/nothing.js"]) {
      expect([path, (await fetch(new URL(path, fleet.url))).status]).toEqual([path, 404]);
    }
  });

  test("streams the fleet as the page shows it: the hosts, counts per service, every row and its host, the journal numbered as /events", async () => {
    const { type, events } = await firstEvents(new URL("/dashboard/stream", fleet.url).href, 1);
    expect(type).toBe("text/event-stream");
    const snapshot = events[0] as Snapshot;
    const status = await fleet.status();
    const web = snapshot.services.find((s) => s.name === "web")!;
    // The embedded host "local" runs both guests.
    expect(snapshot.hosts).toEqual([{ id: "local", status: "up", cpus: availableParallelism(), guests: 2 }]);
    expect({ ...web, instances: web.instances.map((i) => [i.id, i.phase, i.connected, i.devices, i.host]) }).toEqual({
      name: "web",
      target: 2,
      recommended: 2,
      why: status.services[0]!.why,
      failure: null,
      ready: 2,
      total: 2,
      phases: { ready: 2 },
      load: null,
      instances: status.services[0]!.instances.map((i) => [i.id, "ready", true, 0, "local"]),
      hidden: 0,
    });
    const page = (await (await fetch(new URL("/events?after=0", fleet.url))).json()) as {
      written: number;
      entries: { seq: number; message: string }[];
    };
    expect(snapshot.written).toBe(page.written);
    expect(snapshot.journal.map((e) => [e.seq, e.message])).toEqual(page.entries.map((e) => [e.seq, e.message]));
  });

  test("stops at SIGINT with a dashboard stream still open", async () => {
    const controller = new AbortController();
    const res = await fetch(new URL("/dashboard/stream", fleet.url), { signal: controller.signal });
    const reader = res.body!.getReader();
    await reader.read();
    const started = Date.now();
    await fleet.stop();
    expect(fleet.child.exitCode).toBe(0);
    expect(Date.now() - started).toBeLessThan(10_000);
    controller.abort();
  }, 30_000);
});

/** `froctal up` on all addresses, with this environment; resolves with its loopback URL and a stop. */
async function upEverywhere(env: NodeJS.ProcessEnv): Promise<{ url: string; stop(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "froctal-dash-"));
  writeFileSync(join(dir, "fleet.mjs"), webFleet("dash-open", 1));
  const args = [bin, "up", join(dir, "fleet.mjs"), "--host", "0.0.0.0", "--port", "0", "--state-dir", join(dir, "s")];
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], env });
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  const port = await new Promise<string>((found, failed) => {
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk.toString();
      const match = /"url":"http:\/\/0\.0\.0\.0:(\d+)"/.exec(out);
      if (match?.[1] !== undefined) found(match[1]);
    });
    child.once("exit", (code) => failed(new Error(`froctal up exited (${code}) before it listened`)));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    stop: async () => {
      child.kill("SIGINT");
      await exited;
    },
  };
}

describe("on a non-loopback bind", () => {
  test("refuses the page and the stream without FROCTAL_DASHBOARD_TOKEN set, saying so; /status is as before", async () => {
    const env = { ...process.env };
    delete env.FROCTAL_DASHBOARD_TOKEN;
    const m = await upEverywhere(env);
    try {
      for (const path of ["/", "/dashboard/stream", "/?token="]) {
        const res = await fetch(new URL(path, m.url));
        expect([path, res.status, await res.json()]).toEqual([
          path,
          403,
          {
            code: "FROCTAL_E_AUTH",
            reason:
              "the dashboard is bound to 0.0.0.0, not loopback: set FROCTAL_DASHBOARD_TOKEN for froctal up and open /?token=<it>",
          },
        ]);
      }
      expect((await fetch(new URL("/status", m.url))).status).toBe(200);
    } finally {
      await m.stop();
    }
  }, 30_000);

  test("serves the page and the stream with ?token= equal to FROCTAL_DASHBOARD_TOKEN, and only then", async () => {
    const m = await upEverywhere({ ...process.env, FROCTAL_DASHBOARD_TOKEN: "s3cret-token" });
    try {
      const status = async (path: string) => [path, (await fetch(new URL(path, m.url))).status];
      expect(await status("/")).toEqual(["/", 403]);
      expect(await status("/?token=s3cret-tokeN")).toEqual(["/?token=s3cret-tokeN", 403]);
      expect(await status("/dashboard/stream?token=s3cret")).toEqual(["/dashboard/stream?token=s3cret", 403]);
      expect(await status("/?token=s3cret-token")).toEqual(["/?token=s3cret-token", 200]);
      const { events } = await firstEvents(new URL("/dashboard/stream?token=s3cret-token", m.url).href, 1);
      expect((events[0] as Snapshot).fleet).toBe("dash-open");
    } finally {
      await m.stop();
    }
  }, 30_000);
});
