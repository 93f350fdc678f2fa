/**
 * Runs the benchmarks in turn, each in a fresh Node process (so one's heap
 * and JIT state do not colour the next, and --expose-gc is on for memory),
 * then prints every figure in one table with its target and whether this run
 * met it. Timing never fails the run: the exit code is 0 unless the command
 * line is wrong.
 *
 *   node dist/main.js                 all of them
 *   node dist/main.js ingest latency  some of them, by name
 */
import { fork } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { BENCHMARKS } from "./benchmarks.js";
import { type Figure, table } from "./figures.js";

/** A benchmark that runs longer than this is stopped; its figures so far are lost, the rest run. */
const BENCH_TIMEOUT_MS = 180_000;

const wanted = process.argv.slice(2);
const unknown = wanted.filter((n) => BENCHMARKS[n] === undefined);
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(", ")}; choose from: ${Object.keys(BENCHMARKS).join(", ")}`);
  process.exit(2);
}
const names = wanted.length > 0 ? wanted : Object.keys(BENCHMARKS);

console.log(
  `froctal benchmarks: node ${process.version}, ${cpus().length} cores (${cpus()[0]?.model ?? "?"}), ` +
    `load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(" ")}`,
);
console.log(
  "Machines are shared and noisy: compare the ratios, which are measured against a baseline in the same run.\n",
);

const figures: Figure[] = [];
const troubles: string[] = [];
for (const name of names) {
  const bench = BENCHMARKS[name]!;
  console.log(`== ${name} (issue "${bench.issue}"): ${bench.title}`);
  const t0 = Date.now();
  const result = await runOne(name);
  figures.push(...result.figures);
  if (result.trouble) troubles.push(`${name}: ${result.trouble}`);
  console.log(`  (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
}

console.log(table(figures));
const missed = figures.filter((f) => f.target !== undefined && !metOf(f)).length;
const targets = figures.filter((f) => f.target !== undefined).length;
console.log(`\n${targets - missed} of ${targets} targets met in this run.`);
for (const t of troubles) console.log(`did not finish: ${t}`);

function metOf(f: Figure): boolean {
  const t = f.target!;
  return t.cmp === ">=" ? f.value >= t.value : f.value <= t.value;
}

function runOne(name: string): Promise<{ figures: Figure[]; trouble?: string }> {
  return new Promise((resolve) => {
    const child = fork(new URL("./run-one.js", import.meta.url), [name], {
      execArgv: ["--expose-gc"],
      serialization: "advanced",
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    let got: { figures: Figure[]; failure?: string } | undefined;
    child.on("message", (m: { type: string; figures: Figure[]; failure?: string }) => {
      if (m.type === "figures") got = m;
    });
    const timer = setTimeout(() => child.kill("SIGKILL"), BENCH_TIMEOUT_MS);
    child.once("exit", (code, signal) => {
      clearTimeout(timer);
      const trouble =
        got?.failure ??
        (got === undefined
          ? `exited (${signal ?? `code ${code}`}) before reporting, after at most ${BENCH_TIMEOUT_MS / 1000} s`
          : undefined);
      resolve({ figures: got?.figures ?? [], ...(trouble ? { trouble: trouble.split("\n")[0]! } : {}) });
    });
  });
}
