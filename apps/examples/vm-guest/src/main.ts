/**
 * A guest that reports its network interfaces: every 500 ms it reads
 * /sys/class/net and says what changed as device signals (kind "nic",
 * properties mac and operstate), so a NIC hot-plugged by libvirt shows up at
 * the manager as agent.device.added. It sends its traffic over the uplink the
 * fleet pushes as configuration, { uplink: "<nic>" | null }: prepare refuses
 * a NIC it does not have, commit switches, and the NIC in use is reported as
 * the app event "uplink". It also reports gauges (load1: the 1-minute load
 * average, the fleet's load metric; uptime; NIC count), says READY once it
 * answers HTTP on port 8080 (`{ "instance": ID }`, what a VIP in front of it
 * shows), and exits on the manager's Shutdown (the image powers off then).
 */
import { readdirSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { hostname } from "node:os";
import { connect } from "@froctal/agent";

const NET = "/sys/class/net";
const POLL_MS = 500;
const HTTP_PORT = 8080;

interface Nic {
  readonly mac: string;
  readonly operstate: string;
}

interface UplinkConfig {
  readonly uplink: string | null;
}

const agent = connect({ build: { app: "vm-guest", appVersion: "0.1.0" } });
agent.on("error", (err) => console.error(`vm-guest: ${err.code} ${err.message}`));

function read(name: string, file: string): string {
  try {
    return readFileSync(`${NET}/${name}/${file}`, "utf8").trim();
  } catch {
    return ""; // the interface went away between the listing and this read
  }
}

/** The interfaces there now; `lo` is not a device anyone plugged in. */
function scan(): Map<string, Nic> {
  const nics = new Map<string, Nic>();
  for (const name of readdirSync(NET)) {
    if (name === "lo") continue;
    nics.set(name, { mac: read(name, "address"), operstate: read(name, "operstate") });
  }
  return nics;
}

let known = new Map<string, Nic>();
let uplink: string | null = null;

agent.onConfig<UplinkConfig>({
  prepare(config, generation) {
    if (
      typeof config !== "object" ||
      config === null ||
      !(config.uplink === null || typeof config.uplink === "string")
    ) {
      return 'the configuration must be { uplink: "<nic>" | null }';
    }
    if (config.uplink !== null && !scan().has(config.uplink)) {
      console.log(`vm-guest: prepare g${generation} refused: no nic ${config.uplink}`);
      return `nic ${config.uplink} is not present`;
    }
    return undefined;
  },
  commit(config, generation) {
    const from = uplink;
    uplink = config.uplink;
    agent.event("uplink", { generation, nic: uplink });
    console.log(`vm-guest: commit g${generation}: uplink ${uplink ?? "none"}, was ${from ?? "none"}`);
  },
});

/** The 1-minute load average, or undefined where /proc does not say. */
function load1(): number | undefined {
  try {
    const value = Number(readFileSync("/proc/loadavg", "utf8").split(" ")[0]);
    return Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function poll(): void {
  const now = scan();
  for (const [name, nic] of now) {
    const before = known.get(name);
    if (before === undefined) {
      agent.device.added(name, "nic", { ...nic });
      console.log(`vm-guest: nic ${name} added (${nic.mac}, ${nic.operstate})`);
    } else if (before.mac !== nic.mac || before.operstate !== nic.operstate) {
      agent.device.changed(name, "nic", { ...nic });
    }
  }
  for (const [name, nic] of known) {
    if (!now.has(name)) {
      agent.device.removed(name, "nic", { ...nic });
      console.log(`vm-guest: nic ${name} removed`);
    }
  }
  known = now;
  const load = load1();
  if (load !== undefined) agent.gauge("load1", load);
  agent.gauge("uptime_s", process.uptime(), "s");
  agent.gauge("nics", now.size);
}

poll();
const timer = setInterval(poll, POLL_MS);
// Every address it has: lo, and the NIC /init gave an address (froctal.ip=) on a network.
const server = createServer((_request, response) => {
  response.setHeader("content-type", "application/json");
  response.end(JSON.stringify({ instance: hostname() }));
});
server.listen(HTTP_PORT, "0.0.0.0", () => agent.ready(`watching ${NET}, answering on port ${HTTP_PORT}`));
// /init sets the hostname to the instance id.
console.log(`vm-guest: node ${process.version}, instance ${hostname()}`);

// The agent closes itself after this handler; then leave explicitly: a read blocked on the
// virtio-serial port would keep node alive.
agent.onShutdown(() => {
  clearInterval(timer);
  server.close();
  setImmediate(() => void agent.close().then(() => process.exit(0)));
});
