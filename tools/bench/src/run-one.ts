/**
 * Runs one benchmark in this process and hands its figures to the parent
 * (main.ts) over IPC; run directly it just prints them, which is the way to
 * profile one: node --expose-gc --cpu-prof dist/run-one.js ingest
 */
import { BENCHMARKS } from "./benchmarks.js";
import { line, Report } from "./figures.js";

const name = process.argv[2] ?? "";
const bench = BENCHMARKS[name];
if (bench === undefined) {
  console.error(`unknown benchmark ${JSON.stringify(name)}; one of: ${Object.keys(BENCHMARKS).join(", ")}`);
  process.exit(2);
}
const report = new Report(name);
let failure: string | undefined;
try {
  await bench.run(report);
} catch (err) {
  failure = err instanceof Error ? (err.stack ?? err.message) : String(err);
  console.error(`  ${name} stopped early: ${failure}`);
}
if (process.send) {
  await new Promise<void>((resolve) =>
    process.send!({ type: "figures", figures: report.figures, failure }, () => resolve()),
  );
} else if (report.figures.length > 0) {
  console.log(`\n${report.figures.map(line).join("\n")}`);
}
// Guests, sockets and timers are all closed by now; exiting also ends whatever a failed run left behind.
process.exit(0);
