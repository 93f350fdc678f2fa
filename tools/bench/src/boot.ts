/**
 * Benchmark (issue "libvirt"): how long a guest takes from launch to
 * registered (its agent's READY at the server), as a local process and as a
 * real VM (QEMU under TCG, booted from a tools/guest-image build, registered
 * through its virtio-serial channel and the bridge); and libvirt
 * create/destroy calls per second on the built-in test driver, raw through
 * the binding and through the driver (placement, metadata, call gate).
 * The VMs run on a libvirtd of the benchmark's own
 * (tools/setup/private-libvirtd.sh, as root), stopped when it ends: the
 * machine's libvirt configuration and daemons stay untouched.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { performance } from "node:perf_hooks";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Bridge } from "@froctal/bridge";
import { createLibvirtDriver } from "@froctal/driver-libvirt";
import { buildImage, DEFAULT_CACHE_DIR } from "@froctal/guest-image";
import { LifecyclePhase } from "@froctal/protocol";
import { createAgentServer, createRecordingIngest, type RecordingIngest } from "@froctal/server";
import { Hypervisor } from "@unraid/libvirt";
import type { Report } from "./figures.js";
import { percentile, waitFor } from "./measure.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const PROCESS_TRIALS = 10;
const VM_TRIALS = 2;
const CALLS = 2_000;

const readyOf = (ingest: RecordingIngest, id: string) =>
  ingest.events.some(
    (e) =>
      e.instanceId === id &&
      e.event.kind === "lifecycle" &&
      e.event.lifecycle.phase === LifecyclePhase.LIFECYCLE_PHASE_READY,
  );

export async function boot(report: Report): Promise<void> {
  await libvirtCalls(report);
  await processBoot(report);
  await vmBoot(report);
}

async function libvirtCalls(report: Report): Promise<void> {
  const xml = (name: string) =>
    `<domain type='test'><name>${name}</name><memory unit='MiB'>16</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>`;
  const h = new Hypervisor({ uri: "test:///default" });
  await h.connectOpen();
  let t = performance.now();
  for (let i = 0; i < CALLS; i++) {
    const d = await h.domainCreateXML(xml(`bench-raw-${i}`));
    await h.domainDestroy(d);
  }
  const raw = (2 * CALLS) / ((performance.now() - t) / 1000);
  report.add("test driver, raw binding: create+destroy calls", raw, "signals/s", { note: `${CALLS} of each` });

  const template = { xml: xml("{{name}}").replace("<name>", "<uuid>{{uuid}}</uuid><name>") };
  const driver = createLibvirtDriver({ uris: ["test:///default"], templates: { b: template }, pollMs: 60_000 });
  const spec = (i: number) => ({
    instanceId: `b${i}`,
    fleet: "bench",
    fleetId: "bench",
    service: "b",
    image: "b",
    env: {},
  });
  const n = CALLS / 4;
  t = performance.now();
  for (let i = 0; i < n; i++) {
    await driver.start(spec(i));
    await driver.stop(`b${i}`, { graceMs: 0 });
  }
  const through = (2 * n) / ((performance.now() - t) / 1000);
  report.add("through the driver: start+stop calls", through, "signals/s", { note: `${n} of each` });
  report.add("driver / raw", through / raw, "times");
  await driver.close();
  await h.connectClose();
}

async function processBoot(report: Report): Promise<void> {
  const tokens = new Map<string, string>();
  const ingest = createRecordingIngest({ tokens });
  const server = createAgentServer({ ingest });
  const endpoint = await server.listenWebSocket();
  const entry = join(root, "apps/examples/vm-guest/dist/main.js");
  const times: number[] = [];
  for (let i = 0; i < PROCESS_TRIALS; i++) {
    const id = `proc-${i}`;
    tokens.set(id, `t${i}`);
    const t = performance.now();
    const child = spawn(process.execPath, [entry], {
      env: {
        PATH: process.env.PATH,
        FROCTAL_MANAGER_URL: endpoint.address,
        FROCTAL_INSTANCE_ID: id,
        FROCTAL_TOKEN: `t${i}`,
      },
      stdio: "ignore",
    });
    await waitFor(() => readyOf(ingest, id), 20_000, `${id} READY`);
    times.push(performance.now() - t);
    child.kill("SIGKILL");
  }
  times.sort((a, b) => a - b);
  report.add("process guest: launch -> registered, p50", percentile(times, 50), "ms", {
    note: `${PROCESS_TRIALS} launches`,
  });
  await server.close();
}

/**
 * Starts tools/setup/private-libvirtd.sh and resolves with its URI once its daemon answers, or with why it
 * could not. It runs until its stdin ends: the returned stop() ends it, as does this process's death.
 */
function privateLibvirtd(): Promise<{ uri: string; stop: () => Promise<void> } | { failed: string }> {
  const child = spawn("sh", [join(root, "tools/setup/private-libvirtd.sh")], { stdio: ["pipe", "pipe", "pipe"] });
  child.stdin.on("error", () => undefined); // an EPIPE when stopping one that already ended
  const said: string[] = [];
  createInterface({ input: child.stderr }).on("line", (l) => said.push(l));
  const exited = new Promise<void>((r) => child.once("close", () => r()));
  return new Promise((resolve) => {
    child.once("error", (e) => resolve({ failed: e.message }));
    const stop = (): Promise<void> => {
      child.stdin.end();
      return exited;
    };
    createInterface({ input: child.stdout }).once("line", (uri) => resolve({ uri, stop }));
    void exited.then(() => resolve({ failed: said.join("; ") }));
  });
}

async function vmBoot(report: Report): Promise<void> {
  const libvirt = await privateLibvirtd();
  if ("failed" in libvirt) {
    report.say(`VM guest: not measured: no private libvirtd (${libvirt.failed})`);
    return;
  }
  try {
    await vmBootOn(libvirt.uri, report);
  } finally {
    await libvirt.stop();
  }
}

async function vmBootOn(uri: string, report: Report): Promise<void> {
  const image = await buildImage({
    app: join(root, "apps/examples/vm-guest/src/main.ts"),
    outDir: join(DEFAULT_CACHE_DIR, "images", "example-vm-guest"),
  });
  const runDir = mkdtempSync(join(tmpdir(), "froctal-bench-vm-"));
  const xml = readFileSync(join(root, "apps/examples/vms/src/guest.xml"), "utf8");
  const ingest = createRecordingIngest({ tokens: new Map() });
  const server = createAgentServer({ ingest, helloTimeoutMs: 60_000 });
  const driver = createLibvirtDriver({
    uris: [uri],
    templates: { vm: { xml, values: { kernel: image.kernel, initrd: image.initrd, consoleDir: runDir } } },
    channelDir: runDir,
    pollMs: 100,
  });
  const bridge = new Bridge({ server, backoffMs: 20, maxBackoffMs: 100 });
  const sync = setInterval(() => bridge.sync(driver.channels()), 50);
  const times: number[] = [];
  try {
    for (let i = 0; i < VM_TRIALS; i++) {
      const id = `vm-bench-${process.pid}-${i}`;
      const t = performance.now();
      await driver.start({ instanceId: id, fleet: "bench", fleetId: "bench", service: "vm", image: "vm", env: {} });
      await waitFor(() => readyOf(ingest, id), 120_000, `${id} READY`);
      times.push(performance.now() - t);
      await driver.stop(id, { graceMs: 0 });
    }
    times.sort((a, b) => a - b);
    report.add("VM guest (QEMU TCG): launch -> registered, p50", percentile(times, 50), "ms", {
      note: `${VM_TRIALS} boots, no KVM`,
    });
  } finally {
    clearInterval(sync);
    await bridge.close();
    await driver.close();
    await server.close();
    rmSync(runDir, { recursive: true, force: true });
  }
}
