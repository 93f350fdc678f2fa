/**
 * One etcd member for an end-to-end test: Debian's etcd binary as
 * `tools/setup/ensure.sh --test` unpacks it, its data in a temp folder, free
 * loopback ports (never 2379/2380, where a system etcd may listen); stop()
 * SIGKILLs it and removes its data.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { eventually, freePort, root } from "./fleet.js";

const BINARY = join(root, "tools/setup/.cache/etcd");

export interface Etcd {
  /** etcd://127.0.0.1:PORT, as `froctal up --state` takes it. */
  readonly stateUrl: string;
  stop(): Promise<void>;
}

export async function startEtcd(): Promise<Etcd> {
  if (!existsSync(BINARY)) throw new Error(`no etcd at ${BINARY}: run \`sh tools/setup/ensure.sh --test\``);
  const dir = mkdtempSync(join(tmpdir(), "froctal-e2e-etcd-"));
  const [client, peer] = [await freePort(), await freePort()];
  const child = spawn(
    BINARY,
    [
      ...["--name", "e2e", "--data-dir", join(dir, "data"), "--logger=zap", "--log-level=error"],
      ...[
        "--listen-client-urls",
        `http://127.0.0.1:${client}`,
        "--advertise-client-urls",
        `http://127.0.0.1:${client}`,
      ],
      ...[
        "--listen-peer-urls",
        `http://127.0.0.1:${peer}`,
        "--initial-advertise-peer-urls",
        `http://127.0.0.1:${peer}`,
      ],
      ...["--initial-cluster", `e2e=http://127.0.0.1:${peer}`],
    ],
    { stdio: "ignore" },
  );
  const exited = new Promise<void>((done) => child.once("exit", () => done()));
  await eventually(async () => {
    const res = await fetch(`http://127.0.0.1:${client}/health`).catch(() => undefined);
    return res?.ok ? true : undefined;
  }, "etcd to answer /health");
  return {
    stateUrl: `etcd://127.0.0.1:${client}`,
    async stop() {
      child.kill("SIGKILL");
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
