import { describe, expect, it } from "vitest";
import { harness } from "../../test/harness.js";
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
