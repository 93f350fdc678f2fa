// The hello's rules: ids, token, stream, generation and build info.
import { describe, expect, it } from "vitest";
import { agent, expectInvalid, hello, long, TOO_BIG, withHello } from "../test/helpers.js";
import type { AgentFrame } from "./wire.js";

describe("valid frames", () => {
  it("gives a hello without build info an empty build", () => {
    const decoded = agent(withHello((h) => delete h.build));
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(decoded.hello.build).toEqual({ app: "", appVersion: "", agentVersion: "", features: [], platform: "" });
  });

  it("keeps the build a hello carries", () => {
    const decoded = agent({ hello: hello() });
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(decoded.hello.build.features).toEqual(["tls", "hotplug-nic"]);
    expect(decoded.hello.build.app).toBe(long(16));
  });
});

describe("AgentFrame rules", () => {
  const cases: [string, AgentFrame, RegExp?][] = [
    [
      "hello.min_version",
      withHello((h) => {
        h.minVersion = 3;
      }),
      /is above max_version/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = "";
      }),
      /is empty/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = "web 1";
      }),
      /not a valid instance id: "web 1"/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = "-web";
      }),
      /not a valid instance id/,
    ],
    [
      "hello.instance_id",
      withHello((h) => {
        h.instanceId = long(17, "i");
      }),
      /is 17 characters long; the limit is 16/,
    ],
    [
      "hello.token",
      withHello((h) => {
        h.token = long(513, "t");
      }),
      /is 513 characters long; the limit is 512/,
    ],
    [
      "hello.stream_id",
      withHello((h) => {
        h.streamId = "";
      }),
      /is empty/,
    ],
    [
      "hello.stream_id",
      withHello((h) => {
        h.streamId = "s/1";
      }),
      /not a valid stream id/,
    ],
    [
      "hello.running_generation",
      withHello((h) => {
        h.runningGeneration = TOO_BIG;
      }),
      /must be a whole number from 0 to 2\^53/,
    ],
    [
      "hello.build.app",
      withHello((h) => {
        h.build!.app = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.app_version",
      withHello((h) => {
        h.build!.appVersion = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.agent_version",
      withHello((h) => {
        h.build!.agentVersion = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.platform",
      withHello((h) => {
        h.build!.platform = long(17);
      }),
      /limit is 16/,
    ],
    [
      "hello.build.features",
      withHello((h) => {
        h.build!.features = ["a", "b", "c"];
      }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "hello.build.features[1]",
      withHello((h) => {
        h.build!.features = ["tls", "no spaces"];
      }),
      /not a valid feature name/,
    ],
    [
      "hello.build.features[0]",
      withHello((h) => {
        h.build!.features = [""];
      }),
      /is empty/,
    ],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => agent(frame), path, problem);
  });
});
