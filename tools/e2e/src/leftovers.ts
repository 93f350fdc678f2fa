/**
 * The suite's last word on the machine: after every file has run, any guest
 * process still alive that runs from this checkout (its command line names
 * <root>/apps/examples/ and its environment carries FROCTAL_FLEET_ID), and
 * that was not there when the suite began, was leaked by some test. Each one is
 * named on stderr, with the fleet, host and instance its environment carries,
 * and killed: the machine is left as the suite found it, and the leak is on
 * record for whoever reads the run.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { root } from "./fleet.js";

export default function setup(): () => void {
  const before = new Set(guests().map((g) => g.pid));
  return () => {
    const leaked = guests().filter((g) => !before.has(g.pid));
    for (const g of leaked) {
      process.stderr.write(`e2e: a test left guest ${g.describe} (pid ${g.pid}) running; killing it\n`);
      try {
        process.kill(g.pid, "SIGKILL");
      } catch {}
    }
  };
}

interface Guest {
  readonly pid: number;
  readonly describe: string;
}

function guests(): Guest[] {
  const examples = join(root, "apps/examples/");
  const found: Guest[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (/\) Z /.test(readFileSync(`/proc/${entry}/stat`, "latin1"))) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "latin1");
      const env = readFileSync(`/proc/${entry}/environ`, "latin1").split("\0");
      const value = (name: string) => env.find((v) => v.startsWith(`${name}=`))?.slice(name.length + 1);
      const fleetId = value("FROCTAL_FLEET_ID");
      if (fleetId === undefined || !cmdline.includes(examples)) continue;
      const instance = value("FROCTAL_INSTANCE_ID") ?? "?";
      found.push({
        pid: Number(entry),
        describe: `${instance} of fleet ${fleetId} on host ${value("FROCTAL_HOST_ID") ?? "?"}`,
      });
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
