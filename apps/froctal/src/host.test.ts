/**
 * `froctal credential`, `froctal host` and `froctal down` through the built
 * binary, against a real manager (`froctal up --no-local-host`) and real
 * guest processes on a real host daemon.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, test } from "vitest";
import { allReady, bin, eventually, froctal, type RunningFleet, startFleet, webFleet } from "../test/running-fleet.js";
import { managerAddresses } from "./host.js";

const started: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of started.splice(0).reverse()) await s.stop();
});

async function fleet(name: string, replicas: number): Promise<RunningFleet> {
  const f = await startFleet(webFleet(name, replicas), ["--no-local-host"]);
  started.push(f);
  return f;
}

/** `froctal host` as a child process; stop() is SIGTERM (its guests run on) and waits for its exit. */
function host(
  f: RunningFleet,
  id: string,
  credentialFile: string,
  stateDir = mkdtempSync(join(tmpdir(), "froctal-host-")),
) {
  const child: ChildProcess = spawn(
    process.execPath,
    [bin, "host", "--manager", f.url, "--id", id, "--credential-file", credentialFile, "--state-dir", stateDir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  let stderr = "";
  child.stderr!.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.stdout!.resume();
  const exited = new Promise<number | null>((done) => child.once("exit", (code) => done(code)));
  const h = {
    exited,
    stateDir,
    stderr: () => stderr,
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      await exited;
    },
  };
  started.push(h);
  return h;
}

async function credentialOf(f: RunningFleet, id: string): Promise<string> {
  const r = await froctal(["credential", f.module, id, "--state-dir", f.stateDir]);
  expect([r.code, r.stderr]).toEqual([0, ""]);
  const file = join(mkdtempSync(join(tmpdir(), "froctal-cred-")), `${id}.cred`);
  writeFileSync(file, r.stdout);
  return file;
}

/** True while a process with this pid exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
}

describe("froctal host, credential and down", () => {
  test("credential is one per host id, the same every time, and joins that id only", async () => {
    const f = await fleet("creds", 1);
    const a = readFileSync(await credentialOf(f, "a"), "utf8");
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}\n$/);
    expect(readFileSync(await credentialOf(f, "a"), "utf8")).toBe(a);
    expect(readFileSync(await credentialOf(f, "b"), "utf8")).not.toBe(a);
    const impostor = host(f, "b", await credentialOf(f, "a"));
    expect(await impostor.exited).toBe(2);
    expect(impostor.stderr()).toContain(
      "froctal: FROCTAL_E_AUTH: the credential presented for host b is not this fleet's for that id",
    );
  });

  test("host without a credential says how to get one", async () => {
    const r = await froctal(["host", "--manager", "http://127.0.0.1:1", "--id", "a"], {
      ...process.env,
      FROCTAL_HOST_CREDENTIAL: "",
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "froctal: FROCTAL_E_CONFIG: froctal host needs its credential: --credential-file FILE or FROCTAL_HOST_CREDENTIAL (froctal credential prints it)\n",
    );
  });

  test("host with a bad list of managers names the entry, before it starts anything", async () => {
    const stateDir = join(mkdtempSync(join(tmpdir(), "froctal-host-")), "state");
    const manager = "http://127.0.0.1:1,,http://127.0.0.1:2";
    const r = await froctal(["host", "--manager", manager, "--id", "a", "--state-dir", stateDir], {
      ...process.env,
      FROCTAL_HOST_CREDENTIAL: "c".repeat(64),
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      `froctal: FROCTAL_E_CONFIG: --manager is not a manager address or a list of them (entry 2 is empty): "${manager}"; give http://host:port, or every manager's: http://m1:7070,http://m2:7070\n`,
    );
    expect(existsSync(stateDir)).toBe(false);
  });

  test("guests run on the host; stopping the host leaves them running; down stops them and the manager", async () => {
    const f = await fleet("downs", 2);
    const cred = await credentialOf(f, "a");
    const a = host(f, "a", cred);
    await allReady(f, "web", 2);
    const status = (await (await fetch(new URL("/status", f.url))).json()) as {
      hosts: { id: string; status: string; guests: number }[];
    };
    expect(status.hosts.map((h) => [h.id, h.status, h.guests])).toEqual([["a", "up", 2]]);
    const pids = await guestPids(f);
    expect(pids).toHaveLength(2);
    await a.stop();
    expect(pids.map(alive)).toEqual([true, true]);
    // The daemon again, on its state: it adopts the guests it left, and the manager keeps them.
    host(f, "a", cred, a.stateDir);
    await eventually(async () => {
      const s = (await (await fetch(new URL("/status", f.url))).json()) as { hosts: { status: string }[] };
      if (s.hosts[0]?.status !== "up") throw new Error("host a is not back");
    });
    await allReady(f, "web", 2);
    expect((await guestPids(f)).sort()).toEqual([...pids].sort());
    const down = await froctal(["down", "--url", f.url]);
    expect([down.code, down.stdout]).toEqual([
      0,
      "the fleet is stopping; its manager exits once every guest is gone\n",
    ]);
    await eventually(async () => {
      if (f.child.exitCode === null) throw new Error("the manager still runs");
    }, 30_000);
    expect(f.child.exitCode).toBe(0);
    expect(pids.map(alive)).toEqual([false, false]);
  });
});

/** The pids of the fleet's guests: processes whose environment names the manager's agent URL. */
async function guestPids(f: RunningFleet): Promise<number[]> {
  const { readdirSync } = await import("node:fs");
  const marker = `FROCTAL_MANAGER_URL=ws://127.0.0.1:${f.port}/agent`;
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .map(Number)
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(marker);
      } catch {
        return false;
      }
    });
}

describe("managerAddresses (--manager)", () => {
  const sentence = (manager: string) => {
    try {
      managerAddresses(manager);
    } catch (err) {
      expect((err as { code?: string }).code).toBe("FROCTAL_E_CONFIG");
      return (err as Error).message;
    }
    throw new Error("expected FROCTAL_E_CONFIG");
  };

  test("reads one address or every manager's, in order", () => {
    expect(managerAddresses("http://m1:7070").map(String)).toEqual(["http://m1:7070/"]);
    expect(managerAddresses("http://m1:7070, https://m2,ws://m3:7070").map(String)).toEqual([
      "http://m1:7070/",
      "https://m2/",
      "ws://m3:7070/",
    ]);
  });

  test("refuses an empty entry, another scheme, a non-URL and one manager twice, naming the entry", () => {
    expect(sentence("http://m1:7070,")).toContain("(entry 2 is empty)");
    expect(sentence("http://m1:7070,ftp://m2")).toContain(
      '(entry 2, "ftp://m2", is not http://, https://, ws:// or wss://)',
    );
    expect(sentence("m1:7070")).toContain("(the address is not http://, https://, ws:// or wss://)");
    expect(sentence("http://m1:7070,nope")).toContain('(entry 2, "nope", is not a URL)');
    // http:// and ws:// name the same endpoint.
    expect(sentence("http://m1:7070,ws://m1:7070/")).toContain('(entry 2, "ws://m1:7070/", is given twice)');
  });
});
