// The rules of every frame a host sends (HostFrame), at the small test limits of
// test/helpers.ts: the valid frames sit at each limit, and each case breaks one field.
import { describe, expect, it } from "vitest";
import { expectInvalid, LIMITS, long, notInEnum, TOO_BIG } from "../test/helpers.js";
import { FLEET_ID, guest, hostFrame, hostHello, withGuest, withHostHello } from "../test/host.js";
import { decodeHostFrame } from "./host-codec.js";
import { validateHostFrame } from "./validate-host.js";
import { GuestState, type HostFrame } from "./wire.js";

describe("valid host frames", () => {
  it("accepts a hello at every limit", () => {
    const decoded = hostFrame({ hello: hostHello() });
    expect(decoded).toMatchObject({ frame: "hello", hello: { hostId: "a.b:c@d_e-ffffff", credential: long(32, "c") } });
  });

  it("accepts an outcome with a known code or ok with none", () => {
    expect(hostFrame({ outcome: { key: long(16), ok: false, code: "FROCTAL_E_NOT_FOUND", reason: long(32) } })).toEqual(
      { frame: "outcome", outcome: { key: long(16), ok: false, code: "FROCTAL_E_NOT_FOUND", reason: long(32) } },
    );
    expect(hostFrame({ outcome: { key: "k", ok: true } })).toEqual({
      frame: "outcome",
      outcome: { key: "k", ok: true, code: "", reason: "" },
    });
  });

  it.each([
    [-1, null],
    [0, 0],
    [255, 255],
  ])("accepts an exit code of %i (read as %s)", (code, read) => {
    const decoded = hostFrame({ event: { instanceId: long(16), exited: { code, detail: long(32) } } });
    expect(decoded).toEqual({
      frame: "event",
      event: { instanceId: long(16), kind: "exited", requested: false, code: read, detail: long(32) },
    });
  });

  it("accepts an inventory of the most guests, each state, a fleet id or none", () => {
    const states = [
      [GuestState.GUEST_STATE_RUNNING, "running"],
      [GuestState.GUEST_STATE_STOPPED, "stopped"],
      [GuestState.GUEST_STATE_CRASHED, "crashed"],
      [GuestState.GUEST_STATE_PAUSED, "paused"],
    ] as const;
    for (const [state, word] of states) {
      const decoded = hostFrame({ inventory: { guests: [guest(), { ...guest(), fleetId: FLEET_ID, state }] } });
      if (decoded.frame !== "inventory") throw new Error(`decoded a ${decoded.frame}`);
      expect(decoded.inventory.guests.map((g) => [g.fleetId, g.state])).toEqual([
        ["", "crashed"],
        [FLEET_ID, word],
      ]);
    }
  });

  it("takes the limit of guests from the limits it is given", () => {
    const three = { inventory: { guests: [guest(), guest(), guest()] } };
    expectInvalid(() => hostFrame(three), "inventory.guests", /has 3 entries; the limit is 2/);
    expect(() => validateHostFrame(three, { ...LIMITS, maxInventoryGuests: 3 })).not.toThrow();
  });
});

describe("HostFrame rules", () => {
  it("refuses a frame with no case (empty bytes)", () => {
    expectInvalid(() => decodeHostFrame(new Uint8Array(0)), "frame", /^carries no case this protocol version knows$/);
  });

  it("refuses a frame built with two cases", () => {
    const both = { hello: hostHello(), outcome: { key: "k", ok: true } };
    expectInvalid(() => validateHostFrame(both, LIMITS), "frame", /^sets hello and outcome; exactly one case/);
  });

  it("refuses an event with no kind, or with two", () => {
    expectInvalid(() => hostFrame({ event: { instanceId: "i" } }), "event", /^carries no kind/);
    const both = { event: { instanceId: "i", started: {}, exited: {} } };
    expectInvalid(() => validateHostFrame(both, LIMITS), "event", /^sets started and exited/);
  });

  const cases: [string, HostFrame, RegExp][] = [
    ["hello.min_version", withHostHello({ minVersion: 0 }), /^must be at least 1, not 0$/],
    ["hello.max_version", withHostHello({ maxVersion: 0 }), /^must be at least 1/],
    ["hello.min_version", withHostHello({ minVersion: 2 }), /^is above max_version$/],
    ["hello.host_id", withHostHello({ hostId: "" }), /^is empty$/],
    ["hello.host_id", withHostHello({ hostId: long(17) }), /limit is 16/],
    ["hello.host_id", withHostHello({ hostId: "a/b" }), /^is not a valid host id: "a\/b"$/],
    ["hello.host_id", withHostHello({ hostId: "-a" }), /not a valid host id/],
    ["hello.credential", withHostHello({ credential: "" }), /^is empty$/],
    ["hello.credential", withHostHello({ credential: long(33) }), /limit is 32/],
    ["hello.capacity", withHostHello({ capacity: null }), /^is missing$/],
    ["hello.capacity.cpus", withHostHello({ capacity: { memoryBytes: 1 } }), /^must be at least 1/],
    ["hello.capacity.memory_bytes", withHostHello({ capacity: { cpus: 1 } }), /^must be at least 1/],
    ["hello.capacity.memory_bytes", withHostHello({ capacity: { cpus: 1, memoryBytes: TOO_BIG } }), /whole number/],
    ["hello.features", withHostHello({ features: ["a", "b", "c"] }), /has 3 entries; the limit is 2/],
    ["hello.features[1]", withHostHello({ features: ["a", ""] }), /^is empty$/],
    ["hello.features[0]", withHostHello({ features: [long(17)] }), /limit is 16/],
    ["hello.features[0]", withHostHello({ features: ["9x"] }), /not a valid feature name/],
    ["hello.drivers", withHostHello({ drivers: ["a", "b", "c"] }), /has 3 entries; the limit is 2/],
    ["hello.drivers[0]", withHostHello({ drivers: [""] }), /^is empty$/],
    ["hello.drivers[1]", withHostHello({ drivers: ["a", long(17)] }), /limit is 16/],
    ["hello.drivers[0]", withHostHello({ drivers: ["a b"] }), /not a valid driver name/],
    ["outcome.key", { outcome: { key: "", ok: true } }, /^is empty$/],
    ["outcome.key", { outcome: { key: long(17), ok: true } }, /limit is 16/],
    ["outcome.code", { outcome: { key: "k", ok: true, code: "FROCTAL_E_AUTH" } }, /^must be empty when ok is true/],
    ["outcome.reason", { outcome: { key: "k", ok: true, reason: "fine" } }, /^must be empty when ok is true$/],
    ["outcome.code", { outcome: { key: "k", reason: "r" } }, /^is not a FROCTAL_E_\* code this version knows: ""$/],
    ["outcome.code", { outcome: { key: "k", code: "FROCTAL_E_NOPE", reason: "r" } }, /"FROCTAL_E_NOPE"$/],
    ["outcome.code", { outcome: { key: "k", code: long(33), reason: "r" } }, /limit is 32/],
    ["outcome.reason", { outcome: { key: "k", code: "FROCTAL_E_AUTH" } }, /^is empty; a failed action must say why$/],
    ["outcome.reason", { outcome: { key: "k", code: "FROCTAL_E_AUTH", reason: long(33) } }, /limit is 32/],
    ["event.instance_id", { event: { started: {} } }, /^is empty$/],
    ["event.instance_id", { event: { instanceId: "a b", started: {} } }, /not a valid instance id/],
    ["event.started.detail", { event: { instanceId: "i", started: { detail: long(33) } } }, /limit is 32/],
    [
      "event.exited.code",
      { event: { instanceId: "i", exited: { code: -2 } } },
      /^must be -1 \(none\) or 0..255, not -2$/,
    ],
    ["event.exited.code", { event: { instanceId: "i", exited: { code: 256 } } }, /not 256$/],
    ["event.exited.detail", { event: { instanceId: "i", exited: { detail: long(33) } } }, /limit is 32/],
    ["inventory.request_id", { inventory: { requestId: TOO_BIG } }, /whole number/],
    ["inventory.guests", { inventory: { guests: [guest(), guest(), guest()] } }, /has 3 entries; the limit is 2/],
    ["inventory.guests[0].instance_id", withGuest({ instanceId: "" }), /^is empty$/],
    ["inventory.guests[0].instance_id", withGuest({ instanceId: "a\nb" }), /not a valid instance id/],
    ["inventory.guests[0].fleet", withGuest({ fleet: "" }), /^is empty$/],
    ["inventory.guests[0].fleet", withGuest({ fleet: long(17) }), /limit is 16/],
    ["inventory.guests[0].fleet_id", withGuest({ fleetId: FLEET_ID.toUpperCase() }), /not a fleet id/],
    ["inventory.guests[0].fleet_id", withGuest({ fleetId: FLEET_ID.slice(1) }), /not a fleet id/],
    ["inventory.guests[0].fleet_id", withGuest({ fleetId: `${FLEET_ID}0` }), /limit is 32/],
    ["inventory.guests[0].service", withGuest({ service: "" }), /^is empty$/],
    ["inventory.guests[0].service", withGuest({ service: long(17) }), /limit is 16/],
    ["inventory.guests[0].state", withGuest({ state: GuestState.GUEST_STATE_UNSPECIFIED }), /1..4, not 0/],
    ["inventory.guests[0].state", withGuest({ state: notInEnum(5) }), /1..4, not 5$/],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => hostFrame(frame), path, problem);
  });
});
