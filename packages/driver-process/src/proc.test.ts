import { spawn } from "node:child_process";
import { copyFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { environHolds, isSameProcess, parseProcStat, readProcStat } from "./proc.js";

describe("parseProcStat", () => {
  it("takes state and starttime from after the last parenthesis, whatever comm holds", () => {
    const line =
      "4242 (a) b (c) d) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 55 18446744073709551615";
    expect(parseProcStat(line)).toEqual({ state: "S", startTime: "98765" });
  });

  it("refuses what is not a stat line", () => {
    expect(parseProcStat("")).toBeUndefined();
    expect(parseProcStat("4242 (x) S 1 2")).toBeUndefined();
    expect(parseProcStat("4242 (x) S 1 4242 4242 0 -1 4 1 0 0 0 1 2 0 0 20 0 1 0 notanumber 1")).toBeUndefined();
  });
});

describe("reading /proc", () => {
  it("reads a live process whose name holds spaces and parentheses, until it is gone", async () => {
    const dir = await mkdtemp(join(tmpdir(), "froctal-proc-"));
    try {
      const odd = join(dir, "a) b (c");
      await copyFile("/bin/sleep", odd);
      const child = spawn(odd, ["30"], { stdio: "ignore", env: { FROCTAL_TOKEN: "t0k" } });
      await new Promise((resolve) => child.once("spawn", resolve));
      const pid = child.pid!;
      // Running at first, then asleep in sleep(3).
      await vi.waitFor(() => expect(readProcStat(pid)?.state).toBe("S"));
      const startTime = readProcStat(pid)!.startTime;
      expect(isSameProcess(pid, startTime)).toBe(true);
      expect(isSameProcess(pid, String(BigInt(startTime) + 1n))).toBe(false);
      expect(environHolds(pid, "FROCTAL_TOKEN", "t0k")).toBe(true);
      expect(environHolds(pid, "FROCTAL_TOKEN", "t0")).toBe(false);
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      expect(readProcStat(pid)).toBeUndefined();
      expect(isSameProcess(pid, startTime)).toBe(false);
      expect(environHolds(pid, "FROCTAL_TOKEN", "t0k")).toBe(false);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("never takes pid 0, 1 or a negative pid for a guest", () => {
    const own = readProcStat(process.pid)!.startTime;
    expect(isSameProcess(process.pid, own)).toBe(true);
    expect(isSameProcess(-process.pid, own)).toBe(false);
    expect(isSameProcess(1, readProcStat(1)!.startTime)).toBe(false);
    expect(isSameProcess(0, "0")).toBe(false);
  });
});
