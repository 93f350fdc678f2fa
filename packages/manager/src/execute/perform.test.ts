import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
import { prepares, routerFleet } from "../../test/routers.js";
import { defineFleet } from "../policy/fleet.js";

describe("performer: start", () => {
  it("hands a command service to the driver as its command, with no image or args and the same FROCTAL_* env", async () => {
    const fleet = defineFleet({
      name: "shell",
      services: {
        solo: { command: ["./guest.sh", "--greeting", "hello world"], env: { MODE: "test" }, replicas: 1 },
        web: { image: "web.js", args: ["--port", "0"], replicas: 1 },
      },
    });
    const h = harness(fleet);
    h.manager.start();
    await h.settle();
    expect(h.driver.callsOf("start").map((c) => c.spec)).toEqual([
      {
        instanceId: "solo-1",
        fleet: "shell",
        fleetId: h.manager.fleetId,
        service: "solo",
        command: ["./guest.sh", "--greeting", "hello world"],
        env: {
          MODE: "test",
          FROCTAL_MANAGER_URL: "ws://manager.test/agent",
          FROCTAL_INSTANCE_ID: "solo-1",
          FROCTAL_TOKEN: "tok-1",
        },
      },
      {
        instanceId: "web-2",
        fleet: "shell",
        fleetId: h.manager.fleetId,
        service: "web",
        image: "web.js",
        args: ["--port", "0"],
        env: { FROCTAL_MANAGER_URL: "ws://manager.test/agent", FROCTAL_INSTANCE_ID: "web-2", FROCTAL_TOKEN: "tok-2" },
      },
    ]);
  });
});

describe("perform.ts: the one door", () => {
  it("is the only code in src that sends a frame on a session (one call, in command)", () => {
    const src = fileURLToPath(new URL("..", import.meta.url));
    const senders: Record<string, number> = {};
    const walk = (dir: string): void => {
      for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) walk(path);
        else if (entry.name.endsWith(".ts") && !entry.name.endsWith(".test.ts")) {
          const calls = readFileSync(path, "utf8").match(/\.send\s*\(/g)?.length ?? 0;
          if (calls > 0) senders[relative(src, path).split("\\").join("/")] = calls;
        }
      }
    };
    walk(src);
    expect(senders).toEqual({ "execute/perform.ts": 1 });
  });
});

describe("command: configuration steps", () => {
  it("are written at once, while the executor's only slot waits on a driver call that does not return", async () => {
    const fleet = defineFleet({
      ...routerFleet,
      services: { ...routerFleet.services, worker: { image: "worker.js", replicas: 1, startTimeoutMs: 1_000 } },
    });
    const h = harness(fleet, { concurrency: 1 }, { holdStops: true });
    h.manager.start();
    await h.settle();
    // worker-3 never connects: it fails its start deadline, and its stop holds the one slot.
    await h.elapse(1_000);
    expect(h.driver.stopping).toEqual(["worker-3"]);
    const r1 = h.boot("router-1");
    const r2 = h.boot("router-2");
    await h.settle();
    for (let i = 0; i < 20 && prepares(r2).length === 0; i++) await h.elapse(100);
    const g = prepares(r2).at(-1)!.generation;
    expect(prepares(r1).at(-1)!.generation).toBe(g);
    r1.answer("prepared");
    r2.answer("prepared");
    await h.settle();
    expect([r1.session!.sent("commit"), r2.session!.sent("commit")].map((c) => c.map((f) => f.generation))).toEqual([
      [g],
      [g],
    ]);
    expect(h.driver.stopping).toEqual(["worker-3"]);
    expect(h.started()).toEqual(["router-1", "router-2", "worker-3"]);
  });
});
