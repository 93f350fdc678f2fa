/**
 * Record and replay end to end: the froctal binary runs the autoscale example
 * with --record while HTTP load makes web scale out and back in; `froctal
 * replay` on the trace prints the live run's decisions, decision for decision;
 * with a capped policy (--fleet) it prints what would have been decided
 * otherwise; a truncated copy of the trace is refused naming the offset.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, test } from "vitest";
import { driveLoad, eventually, type RunningFleet, root, upFleet } from "./fleet.js";

const bin = join(root, "apps/froctal/dist/main.js");
const dir = mkdtempSync(join(tmpdir(), "froctal-e2e-replay-"));
let fleet: RunningFleet | undefined;
afterAll(async () => {
  await fleet?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function froctal(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [bin, ...args], { timeout: 60_000, maxBuffer: 64 << 20 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

interface Decision {
  readonly kind: string;
  readonly service?: string;
  readonly instance?: string;
  readonly message: string;
}
const DECISIONS = new Set(["scale", "start", "drain", "stop", "rollout"]);
const same = (d: Decision) => ({ kind: d.kind, service: d.service, instance: d.instance, message: d.message });

test("a replay of a recorded autoscale run repeats its decisions; another policy shows its difference", async () => {
  const trace = join(dir, "run.trace");
  fleet = await upFleet("apps/examples/autoscale", { args: ["--record", trace] });
  const f = fleet;
  const lbUrl = await eventually(async () => {
    const lb = (await f.status()).services.find((s) => s.name === "lb")!;
    return lb.instances.find((i) => i.phase === "ready" && typeof i.endpoint === "string")?.endpoint as
      | string
      | undefined;
  }, "the lb guest to be ready");
  await eventually(async () => ((await fetch(`${lbUrl}/?work=1`)).status === 200 ? true : undefined), "a first 200");
  let rate = 100;
  const load = driveLoad(lbUrl, () => rate);
  const web = async () => (await f.status()).services.find((s) => s.name === "web")!;
  await eventually(
    async () => ((await web()).instances.filter((i) => i.phase === "ready").length >= 3 ? true : undefined),
    "web to scale out",
  );
  rate = 5;
  await eventually(
    async () => ((await web()).instances.length === 1 && (await web()).target === 1 ? true : undefined),
    "web to scale in to one instance",
    60_000,
  );
  await load.stop();
  expect(await f.stop()).toBe(0);
  fleet = undefined;

  // The live run's decisions, from the manager's log (pino: kind, service, instance, msg).
  const live: Decision[] = f.logs.flatMap((l) => {
    try {
      const e = JSON.parse(l) as { kind?: string; service?: string; instance?: string; msg?: string };
      if (e.kind === undefined || e.msg === undefined || !DECISIONS.has(e.kind)) return [];
      return [{ kind: e.kind, service: e.service, instance: e.instance, message: e.msg }];
    } catch {
      return [];
    }
  });
  expect(new Set(live.map((d) => d.kind))).toEqual(DECISIONS);

  const replayed = await froctal("replay", trace, "--json");
  expect(replayed.stderr).toBe("");
  expect(replayed.code).toBe(0);
  const decisions = replayed.stdout
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Decision);
  expect(decisions.map(same)).toEqual(live.map(same));

  // The same policy with web capped at 2: what it would have decided otherwise.
  const capped = join(dir, "capped.mjs");
  const original = join(root, "apps/examples/autoscale/dist/fleet.js");
  writeFileSync(
    capped,
    `import fleet from ${JSON.stringify(original)};\n` +
      "export default { ...fleet, services: { ...fleet.services, web: { ...fleet.services.web, max: 2 } } };\n",
  );
  const other = await froctal("replay", trace, "--fleet", capped);
  expect(other.stderr).toBe("");
  expect(other.code).toBe(0);
  const lines = other.stdout.trim().split("\n");
  expect(lines[0]).toBe(`replaying ${trace} with ${capped} instead of ${join(root, "apps/examples/autoscale")}:`);
  // The live run started web-N beyond 2; the capped policy would not have.
  expect(lines.some((l) => /^- \+\d+\.\d{3}s start web web-\d+: /.test(l))).toBe(true);
  expect(lines.at(-1)).toMatch(
    /^\d+ decisions differ \("-" decided by the recorded policy only, "\+" by the other only\)$/,
  );

  // A trace cut inside a record is refused, naming where.
  const bytes = readFileSync(trace);
  const cut = join(dir, "cut.trace");
  writeFileSync(cut, bytes.subarray(0, bytes.length - 1));
  const refused = await froctal("replay", cut);
  expect(refused.code).toBe(2);
  expect(refused.stderr).toMatch(
    /^froctal: FROCTAL_E_TRACE: .*cut.trace: the trace is damaged at byte offset \d+: truncated: /,
  );
  // A file that is no trace at all.
  const refusedForeign = await froctal("replay", bin);
  expect(refusedForeign.code).toBe(2);
  expect(refusedForeign.stderr).toMatch(/^froctal: FROCTAL_E_TRACE: .*not a froctal trace \(at byte offset 0: /);
});
