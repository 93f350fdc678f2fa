// The rules of the events inside a batch: device, lifecycle and app events.
import { describe, it } from "vitest";
import { agent, app, device, expectInvalid, lifecycle, long, notInEnum, TOO_BIG, withEvent } from "../test/helpers.js";
import type { AgentFrame } from "./wire.js";

describe("AgentFrame rules", () => {
  const cases: [string, AgentFrame, RegExp?][] = [
    ["batch.events[0].at_ms", withEvent(0, { ...device(), atMs: TOO_BIG }), /whole number/],
    ["batch.events[2]", withEvent(2, { atMs: 1 }), /carries no event kind/],
    ["batch.events[0].device.change", withEvent(0, { device: { ...device().device, change: 0 } }), /1..3, not 0/],
    [
      "batch.events[0].device.change",
      withEvent(0, { device: { ...device().device, change: notInEnum(4) } }),
      /1..3, not 4/,
    ],
    ["batch.events[0].device.device_id", withEvent(0, { device: { ...device().device, deviceId: "" } }), /is empty/],
    [
      "batch.events[0].device.device_id",
      withEvent(0, { device: { ...device().device, deviceId: "eth 0" } }),
      /not a valid device id/,
    ],
    [
      "batch.events[0].device.kind",
      withEvent(0, { device: { ...device().device, kind: "9nic" } }),
      /not a valid device kind/,
    ],
    [
      "batch.events[0].device.properties",
      withEvent(0, { device: { ...device().device, properties: { a: "", b: "", c: "" } } }),
      /has 3 entries; the limit is 2/,
    ],
    [
      "batch.events[0].device.properties key",
      withEvent(0, { device: { ...device().device, properties: { [long(17, "k")]: "" } } }),
      /limit is 16/,
    ],
    [
      'batch.events[0].device.properties["speed"]',
      withEvent(0, { device: { ...device().device, properties: { speed: long(33) } } }),
      /limit is 32/,
    ],
    [
      "batch.events[1].lifecycle.phase",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, phase: 0 } }),
      /1..6, not 0/,
    ],
    [
      "batch.events[1].lifecycle.phase",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, phase: notInEnum(7) } }),
      /1..6, not 7/,
    ],
    [
      "batch.events[1].lifecycle.task",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, task: "a task" } }),
      /not a valid task name/,
    ],
    [
      "batch.events[1].lifecycle.detail",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, detail: long(33) } }),
      /limit is 32/,
    ],
    [
      "batch.events[1].lifecycle.result.value_json",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, result: { ok: true, valueJson: long(9) } } }),
      /limit is 8/,
    ],
    [
      "batch.events[1].lifecycle.result.error",
      withEvent(1, { lifecycle: { ...lifecycle().lifecycle, result: { error: long(33) } } }),
      /limit is 32/,
    ],
    ["batch.events[2].app.name", withEvent(2, { app: { ...app().app, name: "" } }), /is empty/],
    ["batch.events[2].app.name", withEvent(2, { app: { ...app().app, name: "9lives" } }), /not a valid event name/],
    [
      "batch.events[2].app.payload",
      withEvent(2, { app: { ...app().app, payload: new Uint8Array(9) } }),
      /is 9 bytes; the limit is 8/,
    ],
    ["batch.events[2].app.media_type", withEvent(2, { app: { ...app().app, mediaType: long(17) } }), /limit is 16/],
  ];

  it.each(cases)("refuses a broken %s", (path, frame, problem) => {
    expectInvalid(() => agent(frame), path, problem);
  });
});
