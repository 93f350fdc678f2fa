import { DEFAULT_LIMITS, DeviceChange, encodeAgentFrame, LifecyclePhase } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { appEvent, deviceEvent, lifecycleEvent, measureEvent, toPhase } from "./signals.js";

describe("measureEvent", () => {
  it("returns the exact bytes an event adds to a batch", () => {
    const events = [appEvent(1, "a", { x: 1 }), appEvent(2, "b", "y".repeat(300))];
    const sizes = events.map((e) => measureEvent(e, DEFAULT_LIMITS));
    const empty = encodeAgentFrame({ batch: { firstSeq: 1 } }).length;
    const both = encodeAgentFrame({ batch: { firstSeq: 1, events } }).length;
    // The frame header's varint may grow by a byte; the events' own bytes are exact.
    expect(both - empty - sizes[0]! - sizes[1]!).toBeLessThanOrEqual(1);
    expect(both - empty - sizes[0]! - sizes[1]!).toBeGreaterThanOrEqual(0);
  });

  it("rejects a payload over the limit with FROCTAL_E_FRAME_TOO_LARGE before anything is sent", () => {
    const big = appEvent(0, "blob", new Uint8Array(DEFAULT_LIMITS.maxPayloadBytes + 1));
    expect(() => measureEvent(big, DEFAULT_LIMITS)).toThrow(
      expect.objectContaining({ code: "FROCTAL_E_FRAME_TOO_LARGE" }),
    );
    const fits = appEvent(0, "blob", new Uint8Array(1000));
    expect(() => measureEvent(fits, { ...DEFAULT_LIMITS, maxFrameBytes: 512 })).toThrow(
      expect.objectContaining({ code: "FROCTAL_E_FRAME_TOO_LARGE" }),
    );
  });

  it("rejects what the manager would, naming the field", () => {
    expect(() => measureEvent(appEvent(0, "no spaces", 1), DEFAULT_LIMITS)).toThrow(/event app.name/);
    expect(() => measureEvent(deviceEvent(0, DeviceChange.DEVICE_CHANGE_ADDED, "", "nic"), DEFAULT_LIMITS)).toThrow(
      expect.objectContaining({ code: "FROCTAL_E_FRAME_INVALID" }),
    );
    const detail = "d".repeat(DEFAULT_LIMITS.maxTextLength + 1);
    expect(() => measureEvent(lifecycleEvent(0, LifecyclePhase.LIFECYCLE_PHASE_READY, detail), DEFAULT_LIMITS)).toThrow(
      /lifecycle.detail/,
    );
  });
});

describe("builders", () => {
  it("stringify device properties and encode payloads", () => {
    const d = deviceEvent(0, DeviceChange.DEVICE_CHANGE_ADDED, "eth1", "nic", { speed_mbps: 10_000, up: true });
    expect(d.device?.properties).toEqual({ speed_mbps: "10000", up: "true" });
    expect(appEvent(0, "a", new Uint8Array([1])).app?.mediaType).toBe("application/octet-stream");
    expect(new TextDecoder().decode(appEvent(0, "a", { k: [1] }).app?.payload ?? new Uint8Array())).toBe('{"k":[1]}');
    expect(appEvent(0, "a", "x", "text/plain").app?.mediaType).toBe("text/plain");
    expect(() => appEvent(0, "a", () => 1)).toThrow(/not JSON/);
  });

  it("maps phase names", () => {
    expect(toPhase("ready")).toBe(LifecyclePhase.LIFECYCLE_PHASE_READY);
    expect(toPhase(LifecyclePhase.LIFECYCLE_PHASE_EXITED)).toBe(LifecyclePhase.LIFECYCLE_PHASE_EXITED);
    expect(() => toPhase("asleep" as "ready")).toThrow(/not a lifecycle phase/);
  });
});
