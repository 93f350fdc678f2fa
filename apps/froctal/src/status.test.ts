/** `froctal status` for people: what a failed, a crash-looping and a rolling-out fleet print, line by line. */
import { execFile } from "node:child_process";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ManagerStatus, ServiceStatus } from "@froctal/manager";
import { describe, expect, test } from "vitest";
import { renderStatus } from "./status.js";

const bin = join(resolve(fileURLToPath(import.meta.url), "../.."), "dist/main.js");

const at = Date.UTC(2026, 10, 30, 16, 0, 0);

function service(name: string, extra: Partial<ServiceStatus>): ServiceStatus {
  return {
    name,
    target: 1,
    recommended: 1,
    why: "the policy recommends 1",
    failure: null,
    lastExit: null,
    nextAttemptAt: null,
    instances: [],
    ...extra,
  };
}

const status: ManagerStatus = {
  fleet: "shop",
  generation: 7,
  services: [
    service("db", {
      failure: "db-2 could not be started: FROCTAL_E_CONFIG: no such image",
      lastExit: { instance: "db-2", reason: "the driver could not start it: FROCTAL_E_CONFIG: no such image", at },
    }),
    service("web", {
      lastExit: { instance: "web-4", reason: "it exited unexpectedly (exit code 3)", at: at + 1_500 },
      nextAttemptAt: at + 4_000,
      instances: [
        {
          id: "web-3",
          phase: "ready",
          generation: 7,
          connected: true,
          load: 2.5,
          devices: [],
          endpoint: null,
          facts: {},
        },
      ],
    }),
  ],
  rollouts: [
    {
      generation: 7,
      result: "committed",
      instances: ["web-3", "web-5"],
      results: [
        { instance: "web-3", result: "committed" },
        { instance: "web-5", result: "failed", running: 6, reason: "disk full" },
      ],
      at,
    },
  ],
  rollout: {
    generation: 8,
    phase: "committing",
    instances: ["web-3", "web-5", "web-6"],
    prepared: ["web-3", "web-5", "web-6"],
    committed: ["web-3"],
    failed: [{ instance: "web-5", running: 7, reason: "disk full" }],
  },
  network: null,
  journal: [],
};

const lines = (now: number) => [
  "fleet shop   config generation 7",
  "",
  "db: 0 instances, target 1 (recommended 1: the policy recommends 1)",
  "  failed: db-2 could not be started: FROCTAL_E_CONFIG: no such image — no more instances will be started",
  "  last exit: db-2 the driver could not start it: FROCTAL_E_CONFIG: no such image (2026-11-30T16:00:00.000Z)",
  "",
  "web: 1 instances, target 1 (recommended 1: the policy recommends 1)",
  "  last exit: web-4 it exited unexpectedly (exit code 3) (2026-11-30T16:00:01.500Z)",
  `  next attempt in ${Math.ceil((at + 4_000 - now) / 1_000)} s`,
  "  web-3            ready     gen 7    connected  load 2.5",
  "",
  "rollout in flight: generation 8 committing, 2 of 3 answered",
  "",
  "last rollout: generation 7 committed on web-3; web-5 did not commit it and runs generation 6: disk full",
];

describe("froctal status", () => {
  test("prints a failed service, a crash loop's last exit and next attempt, and what the last rollout did", () => {
    expect(renderStatus(status, at + 2_000).split("\n")).toEqual(lines(at + 2_000));
    // The countdown is rounded up, and never goes below zero once the time has passed.
    expect(renderStatus(status, at + 2_001).split("\n")[8]).toBe("  next attempt in 2 s");
    expect(renderStatus(status, at + 9_000).split("\n")[8]).toBe("  next attempt in 0 s");
  });

  test("names the network driver and the generation the network runs, when there is one", () => {
    const network = { driver: "openvswitch bridge froctal0", generation: 6 };
    expect(
      renderStatus({ ...status, network }, at + 2_000)
        .split("\n")
        .slice(0, 3),
    ).toEqual(["fleet shop   config generation 7", "network: openvswitch bridge froctal0, generation 6", ""]);
  });

  test("prints the hosts and where each instance runs, when the manager has them", () => {
    const withHosts = {
      ...status,
      hosts: [
        { id: "a", status: "up", cpus: 4, memoryBytes: 1, features: [], drivers: ["process"], guests: 1 },
        { id: "b", status: "lost", cpus: 2, memoryBytes: 1, features: [], drivers: ["process"], guests: 0 },
      ],
      placement: { "web-3": "a" },
    } as const;
    const got = renderStatus(withHosts, at + 2_000).split("\n");
    expect(got[1]).toBe("hosts: a up (4 cpus, 1 guests), b lost (2 cpus, 0 guests)");
    expect(got[10]).toBe("  web-3            ready     gen 7    connected  on a  load 2.5");
    expect(got.length).toBe(lines(0).length + 1);
    // The embedded default alone: nothing about hosts.
    const local = {
      ...withHosts,
      hosts: [withHosts.hosts[0]].map((h) => ({ ...h, id: "local" })),
      placement: { "web-3": "local" },
    };
    expect(renderStatus(local, at + 2_000).split("\n")).toEqual(lines(at + 2_000));
  });

  test("shows how long a start or a drain in progress may still take", () => {
    const web = status.services[1]!;
    const row = web.instances[0]!;
    const progress = {
      ...status,
      services: [
        {
          ...web,
          instances: [
            { ...row, id: "web-6", phase: "starting", deadline: { what: "start", at: at + 45_000 } },
            { ...row, id: "web-3", phase: "draining", deadline: { what: "drain", at: at + 12_500 } },
          ],
        },
      ],
    } as const;
    expect(renderStatus(progress, at).split("\n").slice(5, 7)).toEqual([
      "  web-6            starting  gen 7    connected  load 2.5  start: ready within 45 s or failed",
      "  web-3            draining  gen 7    connected  load 2.5  drain: stopped in 13 s at most",
    ]);
  });

  test("the CLI prints the same lines for what a manager's /status answers", async () => {
    const wire: ManagerStatus = {
      ...status,
      services: status.services.map((s) => ({
        ...s,
        nextAttemptAt: s.nextAttemptAt === null ? null : Date.now() + 3_600_000,
      })),
    };
    const server = createServer((_req, res) => {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(wire));
    });
    await new Promise<void>((listening) => server.listen(0, "127.0.0.1", listening));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const r = await new Promise<{ code: number; stdout: string; stderr: string }>((done) =>
        execFile(process.execPath, [bin, "status", "--url", url], { timeout: 20_000 }, (error, stdout, stderr) =>
          done({ code: error ? 1 : 0, stdout, stderr }),
        ),
      );
      expect(r.stderr).toBe("");
      expect(r.code).toBe(0);
      const got = r.stdout.split("\n");
      const want = [...lines(at + 2_000), ""];
      // The countdown is measured on the CLI's own clock: an hour away, less the seconds it took to start.
      expect(got.splice(8, 1)).toEqual([expect.stringMatching(/^ {2}next attempt in (3600|359\d) s$/)]);
      want.splice(8, 1);
      expect(got).toEqual(want);
    } finally {
      await new Promise((closed) => server.close(closed));
    }
  });
});
