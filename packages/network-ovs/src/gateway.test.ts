import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type PrivateOvs, startPrivateOvs } from "@froctal/ovs-switch";
import { FroctalError } from "@froctal/primitives";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OvsNetwork, openOvsNetwork } from "./network.js";

// A subnet of its own: the host routes it to this bridge while the file runs (network.test.ts uses 10.77.0.0/24).
const SUBNET = "10.79.0.0/24";
const POOL = { first: "10.79.0.64", last: "10.79.0.254" };
const VIP = "10.79.0.10";

describe("openOvsNetwork with a gateway: the host on the network", () => {
  let fixture: PrivateOvs;
  let bridge: string;
  let network: OvsNetwork;
  let server: ChildProcess | undefined;

  beforeAll(async () => {
    fixture = await startPrivateOvs();
    bridge = fixture.bridgeName();
    const options = { ...fixture.options, bridge, subnet: SUBNET, pool: POOL, scope: randomBytes(8).toString("hex") };
    network = await openOvsNetwork({ ...options, gateway: "10.79.0.1/24" });
    const [file = "", ...args] = await network.guests.join({ instanceId: "web-1" });
    const script =
      "require('node:http').createServer((q,r)=>r.end(q.socket.remoteAddress)).listen(8080,'0.0.0.0',()=>console.log('up'))";
    server = spawn(file, [...args, process.execPath, "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve) => server!.stdout!.once("data", resolve));
  });

  afterAll(async () => {
    server?.kill("SIGKILL");
    network?.close();
    await network?.guests.leave("web-1");
    await fixture?.stop();
  }, 60_000);

  it("reaches a guest from the host at the guest's address, and the guest sees the gateway", async () => {
    const answer = await (await fetch("http://10.79.0.64:8080/", { signal: AbortSignal.timeout(5_000) })).text();
    expect(answer).toBe("10.79.0.1");
  });

  it("reaches a service's VIP from the host too", async () => {
    await network.driver.prepare(1, { services: { web: { vip: VIP, port: 8080, backends: ["web-1"] } } });
    await network.driver.commit(1);
    const answer = await (await fetch(`http://${VIP}:8080/`, { signal: AbortSignal.timeout(5_000) })).text();
    expect(answer).toBe("10.79.0.1");
  });

  it("refuses a gateway inside the guests' pool or outside the subnet", async () => {
    const options = { ...fixture.options, bridge, subnet: SUBNET, pool: POOL, scope: "other" };
    for (const gateway of ["10.79.0.64/24", "10.80.0.1/24", "10.79.0.1/16", "10.79.0.255/24"]) {
      const error = await openOvsNetwork({ ...options, gateway }).then(
        (n) => {
          n.close();
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(FroctalError);
      expect((error as FroctalError).message).toBe(
        `FROCTAL_E_CONFIG: gateway "${gateway}" is not an address of ${SUBNET} outside the guests' pool, with its prefix length`,
      );
    }
  });
});
