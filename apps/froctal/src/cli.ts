/**
 * froctal: the dom0 binary. Subcommands: up (run a fleet), host (run guests for a
 * manager on this machine), credential (a host's), down (stop a fleet), status (ask a
 * running manager), events (its decisions), replay (a recorded trace), demo (the
 * autoscale example with a built-in load ramp).
 */
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { FroctalError } from "@froctal/protocol";
import { Command, InvalidArgumentError, Option } from "commander";
import { pino } from "pino";
import { runDemo } from "./demo.js";
import { printEvents } from "./events.js";
import { fleetCredential, managerAddresses, runHost } from "./host.js";
import { loadFleet } from "./load-fleet.js";
import { type NetworkChoice, parseNetwork } from "./network.js";
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

function httpUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError("give a URL such as http://manager.example:7070");
  }
  if (!["http:", "https:"].includes(url.protocol))
    throw new InvalidArgumentError("the URL must be http:// or https://");
  return value;
}

function seconds(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 3600)
    throw new InvalidArgumentError("a TTL is a whole number of s from 1 to 3600");
  return n;
}

function grace(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > 3_600_000)
    throw new InvalidArgumentError("a grace is a whole number of ms from 100 to 3600000");
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
  .option(
    "--state <url>",
    "keep the state in etcd instead: etcd://host:2379[,host:2379...]; several managers may then run, one leads",
  )
  .option("--lease-ttl <s>", "with etcd: a dead leader is replaced after this many seconds", seconds, 5)
  .option("--log-level <level>", "pino log level", "info")
  .option("--record <file>", "write every accepted signal, outcome and tick to this trace (see froctal replay)")
  .option(
    "--no-local-host",
    "run no guests in this process, only on hosts that join (froctal host): they then outlive this manager",
  )
  .option(
    "--advertise <url>",
    "the address guests on other machines reach this manager at, http://name:port (default: --host and --port)",
    httpUrl,
  )
  .option("--host-grace-ms <ms>", "how long a silent host keeps its instances before they are replaced", grace, 10_000)
  .option(
    "--managers <urls>",
    "with --state etcd://: every manager's address, comma-separated, told to guests so they find a new leader (default: the managers campaigning when each guest starts)",
  )
  .option(
    "--network <ovs:bridge[,subnet]|hosts>",
    "program the fleet's network on Open vSwitch: each guest in a network namespace on the bridge (made if missing), addresses from the subnet (default 10.77.0.0/24: .1 this manager, .64 and up the guests); needs root and a running ovs-vswitchd. The network of every froctal host that has one (froctal host --network) is programmed too; hosts: only theirs",
  )
  .option(
    "--ovs-run-dir <dir>",
    "with --network: where Open vSwitch keeps its sockets (db.sock)",
    "/var/run/openvswitch",
  )
  .option("--ovs-bin-dir <dir>", "with --network: where ovs-vsctl and ovs-ofctl are", "/usr/bin")
  .action(
    async (
      fleetPath: string,
      opts: {
        host: string;
        port: number;
        tickMs: number;
        stateDir?: string;
        state?: string;
        leaseTtl: number;
        logLevel: string;
        record?: string;
        localHost: boolean;
        hostGraceMs: number;
        advertise?: string;
        managers?: string;
        network?: string;
        ovsRunDir: string;
        ovsBinDir: string;
      },
    ) => {
      const managers = opts.managers === undefined ? [] : managerAddresses(opts.managers, "--managers");
      const log = pino({ level: opts.logLevel });
      const { fleet, driver } = await loadFleet(fleetPath);
      const network = opts.network === undefined ? undefined : networkFor(opts.network, opts);
      const stateDir = opts.stateDir ?? defaultStateDir(fleet.name);
      const record = opts.record === undefined ? undefined : { file: opts.record, fleetModule: resolve(fleetPath) };
      const { host, tickMs, localHost } = opts;
      let { port } = opts;
      let stopFleet!: () => void;
      const down = new Promise<void>((resolve) => {
        stopFleet = resolve;
      });
      const signalled = untilSignal().then(() => "signal" as const);
      // A standby waits inside up(): a signal then ends its wait (it resigns) rather than waiting for it to lead.
      const standingBy = new AbortController();
      void signalled.then(() => standingBy.abort());
      const downed = down.then(() => "down" as const);
      // With etcd, a manager that loses its leadership stands by again (campaigns anew) until it is stopped.
      for (let round = 0; ; round++) {
        let noteLost!: () => void;
        const lost = new Promise<"lost">((resolve) => {
          noteLost = () => resolve("lost");
        });
        const starting = up({
          fleet,
          driver,
          host,
          port,
          tickMs,
          stateDir,
          stateUrl: opts.state,
          leaseTtlSeconds: opts.leaseTtl,
          onLost: noteLost,
          log,
          record,
          localHost,
          hostLostAfterMs: opts.hostGraceMs,
          advertise: opts.advertise,
          managers,
          network,
          onDown: () => stopFleet(),
          signal: standingBy.signal,
        });
        let running: Awaited<typeof starting>;
        try {
          running = await starting;
        } catch (error) {
          if (standingBy.signal.aborted) return;
          // At first start, etcd out of reach is an error to show; after a loss, it is what is waited out.
          if (round === 0 || !(error instanceof FroctalError && error.retryable)) throw error;
          log.warn({ code: error.code }, `${error.message}; campaigning again in 1 s`);
          if ((await Promise.race([signalled, sleep(1000)])) === "signal") return;
          continue;
        }
        // Leading again later, it serves where hosts and agents already look for it (--port 0 included).
        port = Number(new URL(running.url).port);
        const why = await Promise.race([signalled, downed, lost]);
        await running.stop({ fleet: why === "down", lost: why === "lost" });
        if (why !== "lost") return;
        log.info({}, `standing by for fleet ${fleet.name} again`);
      }
    },
  );

program
  .command("host")
  .description("run this machine's guests for a manager: guests outlive both; a restarted host adopts them")
  .requiredOption(
    "--manager <urls>",
    "the manager's address, http://host:port; with standby managers, every manager's, comma-separated (the host follows the leader)",
  )
  .requiredOption("--id <id>", "this host's id in the fleet (letters, digits, . _ : -)")
  .option("--credential-file <file>", "file holding the credential froctal credential printed for this id")
  .option(
    "--state-dir <dir>",
    "where this host keeps its guests' records and output (default: $XDG_STATE_HOME/froctal-host/<id>)",
  )
  .option("--image-root <dir>", "directory relative guest images and commands resolve against")
  .option("--feature <name...>", "features this host offers to services that need them")
  .option(
    "--driver-from <module>",
    "run guests on the driver this fleet module exports (e.g. apps/examples/vms: libvirt domains) instead of as processes",
  )
  .option(
    "--network <ovs:bridge[,subnet]>",
    "this host's guests on an Open vSwitch bridge of its own (made if missing), programmed by the manager (froctal up --network): each process guest in a network namespace, reaching the manager through this host at the subnet's first address; a VM with a NIC there",
  )
  .option(
    "--ovs-run-dir <dir>",
    "with --network: where Open vSwitch keeps its sockets (db.sock)",
    "/var/run/openvswitch",
  )
  .option("--ovs-bin-dir <dir>", "with --network: where ovs-vsctl and ovs-ofctl are", "/usr/bin")
  .option("--log-level <level>", "pino log level", "info")
  .action(
    async (opts: {
      manager: string;
      id: string;
      credentialFile?: string;
      stateDir?: string;
      imageRoot?: string;
      feature?: string[];
      driverFrom?: string;
      network?: string;
      ovsRunDir: string;
      ovsBinDir: string;
      logLevel: string;
    }) => {
      const log = pino({ level: opts.logLevel });
      const credential = hostCredentialFrom(opts.credentialFile);
      const driver = opts.driverFrom === undefined ? undefined : (await loadFleet(opts.driverFrom)).driver;
      if (opts.driverFrom !== undefined && driver === undefined) {
        throw new FroctalError("FROCTAL_E_CONFIG", `${opts.driverFrom} exports no driver`);
      }
      const stateDir = opts.stateDir ?? join(stateBase(), "froctal-host", opts.id);
      const running = await runHost({
        manager: opts.manager,
        id: opts.id,
        credential,
        stateDir,
        imageRoot: opts.imageRoot,
        features: opts.feature ?? [],
        driver,
        network:
          opts.network === undefined
            ? undefined
            : { ...parseNetwork(opts.network), ovsRunDir: opts.ovsRunDir, ovsBinDir: opts.ovsBinDir },
        log,
      });
      const refused = await Promise.race([untilSignal().then(() => undefined), running.finished]);
      await running.stop();
      if (refused !== undefined) throw refused;
    },
  );

program
  .command("credential")
  .description("print the credential a host needs to join a fleet (froctal host --credential-file)")
  .argument("<fleet>", "the fleet module, as given to froctal up")
  .argument("<host-id>", "the host's id")
  .option("--state-dir <dir>", "the manager's state directory, as given to froctal up")
  .option("--state <url>", "the manager's etcd state, as given to froctal up")
  .action(async (fleetPath: string, hostId: string, opts: { stateDir?: string; state?: string }) => {
    const { fleet } = await loadFleet(fleetPath);
    const dir = opts.stateDir ?? defaultStateDir(fleet.name);
    process.stdout.write(`${await fleetCredential({ dir, url: opts.state }, fleet.name, hostId)}\n`);
  });

program
  .command("down")
  .description("stop a fleet on purpose: drain and stop every guest on every host, then stop its manager")
  .option(
    "--url <url>",
    `the manager's HTTP address (default: http://127.0.0.1:$${PORT_ENV}, else port ${DEFAULT_PORT})`,
  )
  .action(async (opts: { url?: string }) => {
    const url = opts.url ?? `http://127.0.0.1:${portFromEnv()}`;
    const res = await fetch(`${url}/down`, { method: "POST" }).catch((cause: unknown) => {
      throw new FroctalError("FROCTAL_E_TRANSPORT", `no manager answers at ${url} (${String(cause)})`);
    });
    const body = (await res.json()) as { code?: string; reason?: string; stopped?: number };
    if (!res.ok) throw new FroctalError("FROCTAL_E_INTERNAL", `${body.code}: ${body.reason}`);
    process.stdout.write(`the fleet is stopping; its manager exits once every guest is gone\n`);
  });

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

function stateBase(): string {
  return process.env.XDG_STATE_HOME || join(homedir(), ".local", "state");
}

function defaultStateDir(fleet: string): string {
  return join(stateBase(), "froctal", fleet);
}

/** The credential from its file, or FROCTAL_HOST_CREDENTIAL (a flag would show it in ps). */
function hostCredentialFrom(file: string | undefined): string {
  const value = file === undefined ? process.env.FROCTAL_HOST_CREDENTIAL : readCredential(file);
  if (value === undefined || value.trim() === "") {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      "froctal host needs its credential: --credential-file FILE or FROCTAL_HOST_CREDENTIAL (froctal credential prints it)",
    );
  }
  return value.trim();
}

function readCredential(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch (cause) {
    throw new FroctalError("FROCTAL_E_CONFIG", `the credential file ${file} cannot be read (${String(cause)})`);
  }
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

/**
 * --network checked against what it needs: a bridge here needs guests in this
 * process (a fleet module's driver is checked by `up`); "hosts" needs none.
 */
function networkFor(
  value: string,
  opts: { localHost: boolean; ovsRunDir: string; ovsBinDir: string },
): NetworkChoice | "hosts" {
  if (value === "hosts") return value;
  const chosen = parseNetwork(value);
  if (!opts.localHost) {
    throw new FroctalError(
      "FROCTAL_E_CONFIG",
      "--network ovs: puts this process's guests on a bridge, and --no-local-host runs none here (--network hosts programs only the hosts')",
    );
  }
  return { ...chosen, ovsRunDir: opts.ovsRunDir, ovsBinDir: opts.ovsBinDir };
}
