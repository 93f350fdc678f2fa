/**
 * froctal: the dom0 binary. Subcommands: up (run a fleet), status (ask a running
 * manager), events (its decisions), replay (a recorded trace), demo (the autoscale example with a built-in load ramp).
 */
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { FroctalError } from "@froctal/protocol";
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { runDemo } from "./demo.js";
import { printEvents } from "./events.js";
import { loadFleet } from "./load-fleet.js";
import { runReplay } from "./replay.js";
import { fetchStatus, renderStatus } from "./status.js";
import { up } from "./up.js";

const DEFAULT_PORT = 7070;
/** `up` listens on, and `status` asks, this port unless told otherwise: two fleets on one machine, or a test. */
const PORT_ENV = "FROCTAL_PORT";

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError("a port is a whole number from 0 to 65535");
  return n;
}

function millis(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 10_000) throw new InvalidArgumentError("a tick is 0 to 10000 ms");
  return n;
}

const program = new Command()
  .name("froctal")
  .description("A reactive control plane for fleets of small guests")
  .showHelpAfterError();

program
  .command("up")
  .description("run a fleet: start its guests and keep them converged on the fleet's policy")
  .argument("<fleet>", "a fleet module, or a folder whose package.json names one (e.g. apps/examples/autoscale)")
  .option("--host <host>", "address to listen on for agents and the HTTP API", "127.0.0.1")
  .addOption(
    new Option("-p, --port <port>", "port for agents (ws /agent) and the HTTP API (/status)")
      .env(PORT_ENV)
      .argParser(port)
      .default(DEFAULT_PORT),
  )
  .option("--tick-ms <ms>", "signals arriving within this window are applied together", millis, 2)
  .option(
    "--state-dir <dir>",
    "where generations, instances and configs survive restarts (default: per fleet, under $XDG_STATE_HOME or ~/.local/state)",
  )
  .option("--log-level <level>", "pino log level", "info")
  .option("--record <file>", "write every accepted signal, outcome and tick to this trace (see froctal replay)")
  .action(
    async (
      fleetPath: string,
      opts: { host: string; port: number; tickMs: number; stateDir?: string; logLevel: string; record?: string },
    ) => {
      const log = pino({ level: opts.logLevel });
      const { fleet, driver } = await loadFleet(fleetPath);
      const stateDir = opts.stateDir ?? defaultStateDir(fleet.name);
      const record = opts.record === undefined ? undefined : { file: opts.record, fleetModule: resolve(fleetPath) };
      const { host, port, tickMs } = opts;
      const running = await up({ fleet, driver, host, port, tickMs, stateDir, log, record });
      await untilSignal();
      await running.stop();
    },
  );

program
  .command("status")
  .description("show the services, instances, load and config generation of a running manager")
  .option(
    "--url <url>",
    `the manager's HTTP address (default: http://127.0.0.1:$${PORT_ENV}, else port ${DEFAULT_PORT})`,
  )
  .option("--json", "print the raw JSON")
  .action(async (opts: { url?: string; json?: boolean }) => {
    const status = await fetchStatus(opts.url ?? `http://127.0.0.1:${portFromEnv()}`);
    process.stdout.write(opts.json ? `${JSON.stringify(status, null, 2)}\n` : `${renderStatus(status)}\n`);
  });

program
  .command("events")
  .description("print the manager's decisions and why, one line each (the journal); --follow for new ones")
  .option(
    "--url <url>",
    `the manager's HTTP address (default: http://127.0.0.1:$${PORT_ENV}, else port ${DEFAULT_PORT})`,
  )
  .option("-f, --follow", "keep printing new decisions until interrupted (Ctrl-C)")
  .action(async (opts: { url?: string; follow?: boolean }) => {
    const stop = new AbortController();
    const interrupt = () => stop.abort();
    process.once("SIGINT", interrupt);
    process.once("SIGTERM", interrupt);
    try {
      await printEvents(opts.url ?? `http://127.0.0.1:${portFromEnv()}`, {
        follow: opts.follow === true,
        signal: stop.signal,
        write: (line) => process.stdout.write(`${line}\n`),
      });
    } finally {
      process.off("SIGINT", interrupt);
      process.off("SIGTERM", interrupt);
    }
  });

program
  .command("replay")
  .description("run a fleet policy again on a trace of froctal up --record and print its decisions")
  .argument("<file>", "the trace")
  .option("--fleet <module>", "another fleet module: print what it would have decided otherwise, and when")
  .option("--json", "one JSON object a decision")
  .action(async (file: string, opts: { fleet?: string; json?: boolean }) => {
    await runReplay({ file, fleet: opts.fleet, json: opts.json, write: (line) => process.stdout.write(`${line}\n`) });
  });

program
  .command("demo")
  .description("the autoscale example: web guests behind a load balancer, a load ramp up and down")
  .option("--seconds <n>", "length of the load ramp", (v) => Number(v), 40)
  .option("--peak <rps>", "peak requests per second", (v) => Number(v), 240)
  .action(async (opts: { seconds: number; peak: number }) => {
    const failed = await runDemo({ seconds: opts.seconds, peakRps: opts.peak });
    process.exitCode = failed === 0 ? 0 : 1;
  });

/** The port `status` asks when no --url is given; a bad FROCTAL_PORT is said as such, not as an internal error. */
function portFromEnv(): number {
  const value = process.env[PORT_ENV];
  if (value === undefined || value === "") return DEFAULT_PORT;
  try {
    return port(value);
  } catch (error) {
    throw new FroctalError("FROCTAL_E_CONFIG", `${PORT_ENV}=${value}: ${(error as Error).message}`);
  }
}

function defaultStateDir(fleet: string): string {
  const base = process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
  return join(base, "froctal", fleet);
}

function untilSignal(): Promise<void> {
  return new Promise((resolve) => {
    process.once("SIGINT", () => resolve());
    process.once("SIGTERM", () => resolve());
  });
}

program.parseAsync().catch((error: unknown) => {
  const sentence = error instanceof FroctalError ? error.message : `FROCTAL_E_INTERNAL: ${String(error)}`;
  process.stderr.write(`froctal: ${sentence}\n`);
  process.exitCode = 2;
});
