/** `froctal events [--follow]` against a running fleet: the decisions, one line each; only new ones while following. */
import { execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import type { JournalEntry } from "@froctal/manager";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { allReady, bin, eventually, froctal, type RunningFleet, startFleet, webFleet } from "../test/running-fleet.js";
import { journalSince, type KeptJournal } from "./events.js";

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z {2}/;

/** The lines without their times, after checking each time is one this test saw pass. */
function untimed(stdout: string, since: number): string[] {
  const lines = stdout.split("\n");
  expect(lines.pop()).toBe("");
  return lines.map((line) => {
    expect(line).toMatch(TIME);
    const at = Date.parse(line.slice(0, 24));
    expect(at).toBeGreaterThanOrEqual(since);
    expect(at).toBeLessThanOrEqual(Date.now());
    return line.slice(26);
  });
}

const started = [
  "scale    web: 0 -> 2 replicas (the policy recommends 2)",
  "start    starting web-1: web has 0 active instances for a target of 2",
  "start    starting web-2: web has 0 active instances for a target of 2",
];

/** The pid of the guest process running `instance`: a child of `froctal up` whose environment names it. */
function guestPid(upPid: number, instance: string): Promise<number> {
  return new Promise((found, failed) =>
    execFile("ps", ["-o", "pid=", "--ppid", String(upPid)], (error, stdout) => {
      if (error) return failed(error);
      const pid = stdout
        .split("\n")
        .map(Number)
        .find(
          (p) =>
            p > 0 &&
            readFileSync(`/proc/${p}/environ`, "latin1").split("\0").includes(`FROCTAL_INSTANCE_ID=${instance}`),
        );
      return pid === undefined ? failed(new Error(`no guest process runs ${instance}`)) : found(pid);
    }),
  );
}

describe("journalSince (GET /events)", () => {
  const entry = (n: number): JournalEntry => ({ at: n, kind: "scale", message: `m${n}` });
  // A journal that wrote 7 entries and keeps the last 3.
  const journal: KeptJournal = { stats: { written: 7 }, recent: () => [entry(5), entry(6), entry(7)] };
  const seqs = (after: number) => journalSince(journal, after).entries.map((e) => [e.seq, e.message]);

  test("numbers the kept entries from the count ever written, and gives those after `after`", () => {
    expect(journalSince(journal, 0)).toEqual({ written: 7, entries: [5, 6, 7].map((n) => ({ seq: n, ...entry(n) })) });
    expect(seqs(5)).toEqual([
      [6, "m6"],
      [7, "m7"],
    ]);
    expect(seqs(7)).toEqual([]);
    // A reader further behind than what is kept gets all that is kept, and sees the gap in the numbers.
    expect(seqs(2)).toEqual([
      [5, "m5"],
      [6, "m6"],
      [7, "m7"],
    ]);
  });
});

describe("froctal events", () => {
  let fleet: RunningFleet;
  let since: number;
  beforeAll(async () => {
    since = Date.now();
    fleet = await startFleet(webFleet("events", 2));
    await allReady(fleet, "web", 2);
  }, 30_000);
  afterAll(() => fleet?.stop(), 30_000);

  test("prints the decisions so far, found by --url or by FROCTAL_PORT as `froctal status` finds the manager", async () => {
    const byUrl = await froctal(["events", "--url", fleet.url]);
    expect(byUrl.stderr).toBe("");
    expect(byUrl.code).toBe(0);
    expect(untimed(byUrl.stdout, since)).toEqual(started);
    const byPort = await froctal(["events"], { ...process.env, FROCTAL_PORT: String(fleet.port) });
    expect(byPort).toEqual(byUrl);
  }, 30_000);

  test("--follow prints what is kept, then only what is new, and ends cleanly on SIGINT", async () => {
    const follower = spawn(process.execPath, [bin, "events", "--follow", "--url", fleet.url], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    follower.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    follower.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const exited = new Promise<number | null>((done) => follower.once("exit", (code) => done(code)));
    await eventually(async () => expect(stdout.split("\n").length).toBe(4));

    // A guest dies: the manager says so, stops what is left of it and starts a replacement.
    process.kill(await guestPid(fleet.child.pid!, "web-1"), "SIGKILL");
    const replaced = [
      ...started,
      "failed   web-1 failed: it exited unexpectedly (killed by SIGKILL)",
      "stop     stopping web-1: it is failed",
      "gone     web-1 is gone: it was stopped",
      "start    starting web-3: web has 1 active instances for a target of 2",
    ];
    await eventually(async () => expect(stdout.split("\n").length).toBe(replaced.length + 1));
    // A few more polls, which must print nothing again.
    await new Promise((r) => setTimeout(r, 1_200));
    follower.kill("SIGINT");
    expect(await exited).toBe(0);
    expect(stderr).toBe("");
    expect(untimed(stdout, since)).toEqual(replaced);
  }, 30_000);

  test("with no manager running, says where it looked", async () => {
    const r = await froctal(["events", "--url", "http://127.0.0.1:9"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe(
      "froctal: FROCTAL_E_TRANSPORT: no manager answered at http://127.0.0.1:9: is `froctal up` running?\n",
    );
  });
});
