/**
 * Builds the hello-guest image and boots it under QEMU with software
 * emulation (TCG: no KVM needed), with a real agent server on the host end
 * of its virtio-serial port. Needs qemu-system-x86_64 (Debian package
 * qemu-system-x86) and apt access for the first build; without them this
 * fails and says so, it never skips.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { LifecyclePhase } from "@froctal/protocol";
import { type AgentServer, createAgentServer, createRecordingIngest, type RecordingIngest } from "@froctal/server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildImage, DEFAULT_CACHE_DIR, type GuestImage } from "./image.js";
import { qemuArgs } from "./qemu.js";

const QEMU = "qemu-system-x86_64";
const INSTANCE = "test-1";
const FIXTURE = fileURLToPath(new URL("../test/fixtures/hello-guest.ts", import.meta.url));
/** Boot took 6-8 s to the hello on a 2-core machine without KVM; leave room for a loaded CI runner. */
const BOOT_TIMEOUT_MS = 60_000;

describe("a guest image booted under QEMU (TCG)", () => {
  let image: GuestImage;
  let dir: string;
  let qemu: ChildProcess | undefined;
  let exited: Promise<number | null> | undefined;
  let serial = "";
  let server: AgentServer | undefined;
  let ingest: RecordingIngest;
  let socket: Socket | undefined;
  /** What the build said, line by line. */
  const built: string[] = [];

  beforeAll(async () => {
    const version = spawnSync(QEMU, ["--version"], { encoding: "utf8" });
    if (version.status !== 0) {
      throw new Error(
        `${QEMU} cannot run (${version.error?.message ?? version.stderr.trim()}); install it with: apt-get install -y --no-install-recommends qemu-system-x86`,
      );
    }
    try {
      image = await buildImage({
        app: FIXTURE,
        outDir: join(DEFAULT_CACHE_DIR, "images", "hello-guest"),
        log: (line) => built.push(line),
      });
    } catch (err) {
      throw new Error(`the guest image could not be built: ${(err as Error).message}`, { cause: err });
    }
    dir = mkdtempSync(join(tmpdir(), "froctal-guest-"));
  }, 120_000);

  afterAll(async () => {
    if (qemu && qemu.exitCode === null && qemu.signalCode === null) qemu.kill("SIGKILL");
    await exited;
    socket?.destroy();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** Resolves when `ready()` holds after a change in the ingest; fails on timeout or when QEMU ends. */
  const until = (what: string, ready: () => boolean, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      if (ready()) return resolve();
      const fail = (why: string) => {
        stop();
        reject(new Error(`${why} waiting for ${what}; the guest's console ended with:\n${serial.slice(-3000)}`));
      };
      const timer = setTimeout(() => fail(`no answer in ${timeoutMs} ms`), timeoutMs);
      const onExit = (code: number | null) => fail(`QEMU exited (${code})`);
      const dispose = ingest.subscribe(() => {
        if (!ready()) return;
        stop();
        resolve();
      });
      qemu?.once("exit", onExit);
      const stop = () => {
        clearTimeout(timer);
        dispose();
        qemu?.off("exit", onExit);
      };
    });

  it("says each slow step of its build before it starts it, and what it built", () => {
    const steps = built.map((line) => line.replace(/^hello-guest: /, "").replace(/ .*$/, ""));
    expect(steps).toEqual(
      image.rebuilt
        ? ["fetching", "bundling", "kernel", "writing", "vmlinuz"]
        : ["fetching", "bundling", "kernel", "vmlinuz"],
    );
    expect(built[0]).toBe(
      `hello-guest: fetching the kernel, busybox and node (cached in ${resolve(DEFAULT_CACHE_DIR)} after the first build)`,
    );
    expect(built[1]).toBe(`hello-guest: bundling ${FIXTURE}`);
  });

  it("boots, registers over its virtio-serial port without a token, and says READY", async () => {
    ingest = createRecordingIngest({ tokens: new Map() });
    server = createAgentServer({
      ingest,
      // The connection opens as QEMU starts; the hello comes after the boot.
      helloTimeoutMs: BOOT_TIMEOUT_MS,
      // See the shutdown test: the guest's node exits on the next byte after its agent closed.
      heartbeatMs: 1_000,
    });
    const socketPath = join(dir, "ch0.sock");
    const started = performance.now();
    const args = qemuArgs({ kernel: image.kernel, initrd: image.initrd, instanceId: INSTANCE, socketPath });
    const vm = spawn(QEMU, args, { stdio: ["ignore", "pipe", "pipe"] });
    qemu = vm;
    exited = new Promise((resolve) => vm.once("exit", (code) => resolve(code)));
    vm.stdout?.on("data", (chunk: Buffer) => {
      serial += chunk.toString();
    });
    vm.stderr?.on("data", (chunk: Buffer) => {
      serial += chunk.toString();
    });

    // QEMU listens on the port's socket as it starts; connect before the guest opens the port.
    for (let waited = 0; !existsSync(socketPath); waited += 20) {
      if (waited > 10_000 || vm.exitCode !== null) throw new Error(`QEMU made no socket ${socketPath}:\n${serial}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stream = connect(socketPath);
    socket = stream;
    await new Promise<void>((resolve, reject) => stream.once("connect", resolve).once("error", reject));
    server.serveStream(stream, { instanceId: INSTANCE, peer: `vport ${INSTANCE}` });

    await until("the hello", () => ingest.hellos.has(INSTANCE), BOOT_TIMEOUT_MS);
    const helloAt = performance.now() - started;
    await until("READY", () => phases().includes(LifecyclePhase.LIFECYCLE_PHASE_READY), 10_000);
    const readyAt = performance.now() - started;
    console.log(
      `booted ${image.name} (vmlinuz ${image.kernelBytes} B, initrd ${image.initrdBytes} B): hello after ${(helloAt / 1000).toFixed(1)} s, READY after ${(readyAt / 1000).toFixed(1)} s`,
    );

    expect(ingest.hellos.get(INSTANCE)).toMatchObject({
      instanceId: INSTANCE,
      token: "",
      build: { app: "hello-guest", appVersion: "0.1.0" },
    });
    await until("the gauge", () => ingest.metrics(INSTANCE).has("uptime_s"), 10_000);
    expect(serial).toContain(`froctal-init: starting the app as instance ${INSTANCE}, manager at /dev/vport`);
  }, 90_000);

  it("stops the app on a Shutdown and powers the guest off", async () => {
    const session = ingest?.sessions.get(INSTANCE);
    if (!session) throw new Error("the guest never registered: see the test before");
    session.send({ shutdown: { graceMs: 2_000, reason: "test over" } });
    await until("STOPPING", () => phases().includes(LifecyclePhase.LIFECYCLE_PHASE_STOPPING), 10_000);
    // A read pending on the quiet port holds a thread of node's pool, which process.exit joins:
    // node exits when the next byte (a heartbeat ping) ends that read. Hanging up instead would
    // not do: a write to a port whose host end is closed blocks, and the agent may still write.
    const code = await Promise.race([
      exited,
      new Promise((resolve) => setTimeout(() => resolve("still running"), 20_000)),
    ]);
    expect(code, `QEMU did not power off; console:\n${serial.slice(-3000)}`).toBe(0);
    expect(serial).toContain("froctal-init: the app exited with status 0");
  }, 30_000);

  function phases(): LifecyclePhase[] {
    return ingest.events.flatMap((r) =>
      r.instanceId === INSTANCE && r.event.kind === "lifecycle" ? [r.event.lifecycle.phase] : [],
    );
  }
});
