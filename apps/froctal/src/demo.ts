/**
 * `froctal demo` (the README's main command): the autoscale example fleet with
 * a built-in load ramp. Prints what the manager decides and why, a line a
 * second of load and replicas, and at the end how many requests failed.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { Agent, request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autoscale from "@froctal/example-autoscale";
import { pino } from "pino";
import { up } from "./up.js";

export interface DemoOptions {
  readonly seconds: number;
  readonly peakRps: number;
}

/** Runs the demo; resolves with the number of failed requests. */
export async function runDemo(options: DemoOptions): Promise<number> {
  const started = Date.now();
  const t = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(5)}s`;
  const say = (line: string) => process.stdout.write(`${t()}  ${line}\n`);
  const stateDir = mkdtempSync(join(tmpdir(), "froctal-demo-"));
  const running = await up({
    fleet: autoscale,
    stateDir,
    host: "127.0.0.1",
    port: 0,
    log: pino({ level: "silent" }),
    onJournal: (e) => {
      if (e.kind !== "session") say(e.message);
    },
  });
  say(`manager up at ${running.url}; fleet ${autoscale.name}: web guests behind one lb guest`);
  const lbUrl = await waitFor(() => {
    const lb = running.manager.store.service("lb").ready[0];
    return lb?.fact<{ url: string }>("endpoint")?.url;
  }, 30_000);
  // The lb answers 503 until its first backend set is committed.
  await waitFor(
    async () => ((await fetch(`${lbUrl}/?work=1`).catch(() => undefined))?.status === 200 ? true : undefined),
    30_000,
  );
  say(`load balancer ready at ${lbUrl}; ramping load up to ${options.peakRps} requests/s and down again`);

  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let ok = 0;
  let failed = 0;
  let sentThisSecond = 0;
  const get = () =>
    new Promise<void>((resolve) => {
      const req = request(`${lbUrl}/?work=20`, { agent }, (res) => {
        res.resume();
        res.on("end", () => {
          if (res.statusCode === 200) ok++;
          else failed++;
          resolve();
        });
      });
      req.on("error", () => {
        failed++;
        resolve();
      });
      req.setTimeout(5_000, () => req.destroy());
      req.end();
    });

  const rateAt = (s: number) => {
    const x = s / options.seconds;
    const low = options.peakRps * 0.1;
    if (x < 0.15) return low;
    if (x < 0.45) return low + ((options.peakRps - low) * (x - 0.15)) / 0.3;
    if (x < 0.6) return options.peakRps;
    if (x < 0.85) return options.peakRps - ((options.peakRps - low) * (x - 0.6)) / 0.25;
    return low;
  };
  const inflight = new Set<Promise<void>>();
  const loadStart = Date.now();
  let nextReport = 1;
  for (;;) {
    const s = (Date.now() - loadStart) / 1000;
    if (s >= options.seconds) break;
    const rate = rateAt(s);
    const p = get();
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
    sentThisSecond++;
    if (s >= nextReport) {
      const web = running.manager.status().services.find((x) => x.name === "web")!;
      const ready = web.instances.filter((i) => i.phase === "ready").length;
      say(
        `load ${String(sentThisSecond).padStart(4)} req/s   web ${ready} ready / target ${web.target}   ok ${ok}  failed ${failed}`,
      );
      sentThisSecond = 0;
      nextReport++;
    }
    await sleep(1000 / Math.max(1, rate));
  }
  await Promise.all(inflight);
  say("load stopped; letting the fleet settle");
  await waitFor(
    () => (running.manager.status().services.find((x) => x.name === "web")!.instances.length <= 1 ? true : undefined),
    30_000,
  ).catch(() => undefined);
  await running.stop();
  rmSync(stateDir, { recursive: true, force: true });
  agent.destroy();
  say(`done: ${ok} requests ok, ${failed} failed`);
  return failed;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`FROCTAL_E_TIMEOUT: the demo waited ${timeoutMs} ms for the fleet`);
    await sleep(50);
  }
}
