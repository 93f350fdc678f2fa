/**
 * Example guest: a machine with several NICs. It reports each NIC as a device
 * (kind "nic", property speed_mbps) read from its device directory (see
 * @froctal/example-router/device-dir), and sends its traffic over the uplink
 * the fleet pushes as configuration: { uplink: "<nic id>" | null }. prepare
 * refuses a NIC it no longer has; commit switches; the NIC in use is reported
 * as the app event "uplink" and served as JSON on its "endpoint" (GET /).
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { connect } from "@froctal/agent";
import { deviceDirFromEnv, reportDevices, watchDeviceDir } from "@froctal/example-router/device-dir";

interface UplinkConfig {
  readonly uplink: string | null;
}

const say = (line: string) => process.stdout.write(`${line}\n`);
const agent = connect({ build: { app: "nic-guest", appVersion: "0.1.0", features: ["multi-nic"] } });
agent.on("error", (e) => say(`agent: ${e.code}: ${e.sentence}`));

const { dir, seed } = deviceDirFromEnv();
const nics = watchDeviceDir({
  dir,
  seed,
  onChange: (changes, all) => {
    reportDevices(agent, "nic", changes);
    const list = [...all].map(([id, p]) => `${id} ${String(p.speed_mbps ?? "?")} Mb/s`);
    say(`nics: ${list.length > 0 ? list.join(", ") : "none"}`);
  },
  onProblem: say,
});

let uplink: string | null = null;
let running = 0;

agent.onConfig<UplinkConfig>({
  prepare(config, generation) {
    if (
      typeof config !== "object" ||
      config === null ||
      !(config.uplink === null || typeof config.uplink === "string")
    ) {
      return 'the configuration must be { uplink: "<nic id>" | null }';
    }
    if (config.uplink !== null && !nics.devices.has(config.uplink)) {
      say(`prepare g${generation} refused: no nic ${config.uplink}`);
      return `nic ${config.uplink} is not present`;
    }
    return undefined;
  },
  commit(config, generation) {
    const from = uplink;
    uplink = config.uplink;
    running = generation;
    const speed = uplink === null ? undefined : nics.devices.get(uplink)?.speed_mbps;
    agent.event("uplink", { generation, nic: uplink, speed_mbps: speed ?? null });
    say(
      `commit g${generation}: uplink ${uplink ?? "none"}${speed === undefined ? "" : ` (${speed} Mb/s)`}, was ${from ?? "none"}`,
    );
  },
});

const server = createServer((_req, res) => {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(
    JSON.stringify({
      instance: process.env.FROCTAL_INSTANCE_ID,
      generation: running,
      uplink,
      nics: Object.fromEntries(nics.devices),
    }),
  );
});
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  agent.event("endpoint", { url: `http://127.0.0.1:${port}` });
  agent.ready();
});

agent.exitOnSignals(() => {
  nics.close();
  server.close();
});
