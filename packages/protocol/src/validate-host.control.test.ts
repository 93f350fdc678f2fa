// The rules of every frame the manager sends a host (HostControl), at the small test
// limits of test/helpers.ts: the valid frames sit at each limit, and each case breaks one field.
import { describe, expect, it } from "vitest";
import { expectInvalid, LIMITS, long, TOO_BIG } from "../test/helpers.js";
import { FLEET_ID, hostControl, start, withStart } from "../test/host.js";
import { decodeHostControl } from "./host-codec.js";
import { validateHostControl } from "./validate-host.js";
import type { HostControl } from "./wire.js";

const welcome = { version: 1, sessionId: long(16), fleet: long(16), fleetId: FLEET_ID, maxFrameBytes: 1 };
const list = { requestId: Number.MAX_SAFE_INTEGER, fleet: long(16), fleetId: FLEET_ID };

describe("valid host controls", () => {
  it("accepts a welcome, a refuse and a list at every limit", () => {
    expect(hostControl({ welcome })).toEqual({ frame: "welcome", welcome });
    const refuse = { code: long(16), reason: long(32), retryable: true, retryAfterMs: 2 ** 32 - 1 };
    expect(hostControl({ refuse })).toEqual({ frame: "refuse", refuse });
    expect(hostControl({ list })).toEqual({ frame: "list", list });
  });

  it("accepts a start at every limit, with an image", () => {
    const decoded = hostControl({ action: { key: long(16), start: start() } });
    expect(decoded).toEqual({ frame: "action", action: { key: long(16), kind: "start", start: start() } });
  });

  it("accepts a start at every limit, with a command", () => {
    const decoded = hostControl(withStart({ image: "", command: [long(32), ""] }));
    if (decoded.frame !== "action" || decoded.action.kind !== "start") throw new Error("decoded no start");
    expect(decoded.action.start.command).toEqual([long(32), ""]);
    expect("image" in decoded.action.start).toBe(false);
  });

  it("accepts a start with no env and no args", () => {
    const decoded = hostControl(withStart({ env: {}, args: [] }));
    expect(decoded).toMatchObject({ action: { start: { env: {}, args: [] } } });
  });

  it("accepts a stop with any grace", () => {
    const stop = { instanceId: long(16), graceMs: 2 ** 32 - 1 };
    expect(hostControl({ action: { key: "k", stop } })).toEqual({
      frame: "action",
      action: { key: "k", kind: "stop", stop },
    });
  });
});

describe("network actions", () => {
  const services = { web: { vip: "10.77.0.10", port: 65_535, backends: [long(16)] } };
  const routes = [{ prefix: "10.9.0.0/16", via: long(16) }];

  it("accepts a network prepare, commit and abort, shaped as the manager's NetworkSpec", () => {
    const prepared = hostControl({ action: { key: "k", networkPrepare: { generation: 7, services, routes } } });
    expect(prepared).toEqual({
      frame: "action",
      action: { key: "k", kind: "networkPrepare", networkPrepare: { generation: 7, desired: { services, routes } } },
    });
    expect(hostControl({ action: { key: "k", networkCommit: { generation: 7 } } })).toEqual({
      frame: "action",
      action: { key: "k", kind: "networkCommit", networkCommit: { generation: 7 } },
    });
    expect(hostControl({ action: { key: "k", networkAbort: { generation: 8 } } })).toEqual({
      frame: "action",
      action: { key: "k", kind: "networkAbort", networkAbort: { generation: 8 } },
    });
  });

  it("refuses generation 0, a port out of range, a backend or router that is not an instance id, a bad service name", () => {
    const prepare = (p: object) => () => hostControl({ action: { key: "k", networkPrepare: { generation: 1, ...p } } });
    expectInvalid(prepare({ generation: 0 }), "action.network_prepare.generation", /^must be at least 1, not 0$/);
    expectInvalid(
      prepare({ services: { web: { ...services.web, port: 65_536 } } }),
      'action.network_prepare.services["web"].port',
      /^is 65536, not a TCP port/,
    );
    expectInvalid(
      prepare({ services: { web: { ...services.web, backends: ["a b"] } } }),
      'action.network_prepare.services["web"].backends[0]',
      /instance id/,
    );
    expectInvalid(
      prepare({ routes: [{ prefix: "10.9.0.0/16", via: "" }] }),
      "action.network_prepare.routes[0].via",
      /./,
    );
    expectInvalid(
      prepare({ services: { "no good": services.web } }),
      "action.network_prepare.services key",
      /service name/,
    );
    expectInvalid(
      () => hostControl({ action: { key: "k", networkCommit: { generation: 0 } } }),
      "action.network_commit.generation",
      /^must be at least 1, not 0$/,
    );
  });
});

describe("HostControl rules", () => {
  it("refuses a frame with no case (empty bytes)", () => {
    expectInvalid(() => decodeHostControl(new Uint8Array(0)), "frame", /^carries no case this protocol version knows$/);
  });

  it("refuses a frame built with two cases", () => {
    expectInvalid(() => validateHostControl({ welcome, list }, LIMITS), "frame", /^sets welcome and list; exactly one/);
  });

  it("refuses an action with no kind, or with two", () => {
    expectInvalid(
      () => hostControl({ action: { key: "k" } }),
      "action",
      /^carries no kind this protocol version knows$/,
    );
    const both = { action: { key: "k", start: start(), stop: { instanceId: "i" } } };
    expectInvalid(() => validateHostControl(both, LIMITS), "action", /^sets start and stop; exactly one kind/);
  });

  it("refuses a refuse whose retry delay is not a whole number (built by hand)", () => {
    expectInvalid(
      () => validateHostControl({ refuse: { retryAfterMs: -1 } }, LIMITS),
      "refuse.retry_after_ms",
      /^must be a whole number from 0 to 2\^53, not -1$/,
    );
  });

  const cases: [string, HostControl, RegExp][] = [
    ["welcome.version", { welcome: { ...welcome, version: 0 } }, /^must be at least 1, not 0$/],
    ["welcome.session_id", { welcome: { ...welcome, sessionId: long(17) } }, /limit is 16/],
    ["welcome.fleet", { welcome: { ...welcome, fleet: "" } }, /^is empty$/],
    ["welcome.fleet", { welcome: { ...welcome, fleet: long(17) } }, /limit is 16/],
    ["welcome.fleet_id", { welcome: { ...welcome, fleetId: "" } }, /^is empty$/],
    ["welcome.fleet_id", { welcome: { ...welcome, fleetId: FLEET_ID.replace("a", "g") } }, /^is not a fleet id/],
    ["refuse.code", { refuse: { code: long(17) } }, /limit is 16/],
    ["refuse.reason", { refuse: { reason: long(33) } }, /limit is 32/],
    ["list.request_id", { list: { ...list, requestId: 0 } }, /^must be at least 1, not 0$/],
    ["list.request_id", { list: { ...list, requestId: TOO_BIG } }, /whole number/],
    ["list.fleet", { list: { ...list, fleet: "" } }, /^is empty$/],
    ["list.fleet_id", { list: { ...list, fleetId: "" } }, /^is empty$/],
    ["list.fleet_id", { list: { ...list, fleetId: ` ${FLEET_ID.slice(1)}` } }, /^is not a fleet id/],
    ["action.key", { action: { key: "", stop: { instanceId: "i" } } }, /^is empty$/],
    ["action.key", { action: { key: long(17), stop: { instanceId: "i" } } }, /limit is 16/],
    ["action.stop.instance_id", { action: { key: "k", stop: {} } }, /^is empty$/],
    ["action.stop.instance_id", { action: { key: "k", stop: { instanceId: "../x" } } }, /not a valid instance id/],
    ["action.start.instance_id", withStart({ instanceId: "" }), /^is empty$/],
    ["action.start.instance_id", withStart({ instanceId: long(17) }), /limit is 16/],
    ["action.start.instance_id", withStart({ instanceId: "web 1" }), /^is not a valid instance id: "web 1"$/],
    ["action.start.fleet", withStart({ fleet: "" }), /^is empty$/],
    ["action.start.fleet", withStart({ fleet: long(17) }), /limit is 16/],
    ["action.start.fleet_id", withStart({ fleetId: "" }), /^is empty$/],
    ["action.start.fleet_id", withStart({ fleetId: FLEET_ID.slice(0, 31) }), /^is not a fleet id/],
    ["action.start.service", withStart({ service: "" }), /^is empty$/],
    ["action.start.service", withStart({ service: long(17) }), /limit is 16/],
    ["action.start.env", withStart({ env: { A: "", B: "", C: "" } }), /^has 3 entries; the limit is 2$/],
    ["action.start.env key", withStart({ env: { "1A": "" } }), /^is not a valid environment variable name: "1A"$/],
    ["action.start.env key", withStart({ env: { "A-B": "" } }), /not a valid environment variable name/],
    ["action.start.env key", withStart({ env: { "A=B": "" } }), /not a valid environment variable name/],
    ["action.start.env key", withStart({ env: { "": "x" } }), /^is empty$/],
    ["action.start.env key", withStart({ env: { [long(17, "K")]: "" } }), /limit is 16/],
    ['action.start.env["A"]', withStart({ env: { A: long(33) } }), /limit is 32/],
    ["action.start.args", withStart({ args: ["a", "b", "c"] }), /^has 3 entries; the limit is 2$/],
    ["action.start.args[1]", withStart({ args: ["a", long(33)] }), /limit is 32/],
    ["action.start.command", withStart({ image: "", command: ["a", "b", "c"] }), /^has 3 entries; the limit is 2$/],
    ["action.start.command[0]", withStart({ image: "", command: [long(33)] }), /limit is 32/],
    ["action.start.command[0]", withStart({ image: "", command: ["", "x"] }), /^is empty; it names the executable$/],
    ["action.start.image", withStart({ image: long(33) }), /limit is 32/],
    ["action.start", withStart({ command: ["/bin/true"] }), /^sets both image and command; exactly one may be set$/],
    ["action.start", withStart({ image: "" }), /^sets neither image nor command; exactly one must be set$/],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => hostControl(frame), path, problem);
  });
});
