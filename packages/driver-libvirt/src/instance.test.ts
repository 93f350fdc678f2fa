import { DomainState } from "@unraid/libvirt";
import { describe, expect, it } from "vitest";
import { holdsResources, instanceState, isActive } from "./instance.js";

describe("libvirt states in the port's words", () => {
  it.each([
    [DomainState.NOSTATE, "running", true],
    [DomainState.RUNNING, "running", true],
    [DomainState.BLOCKED, "running", true],
    [DomainState.SHUTDOWN, "running", true],
    [DomainState.PAUSED, "paused", true],
    [DomainState.PMSUSPENDED, "paused", true],
    [DomainState.SHUTOFF, "stopped", false],
    [DomainState.CRASHED, "crashed", false],
  ] as const)("%s is %s", (state, word, active) => {
    expect(instanceState(state)).toBe(word);
    expect(isActive(instanceState(state))).toBe(active);
  });

  it("counts every domain but a shut-off one against the host's capacity", () => {
    expect(holdsResources(DomainState.CRASHED)).toBe(true);
    expect(holdsResources(DomainState.PAUSED)).toBe(true);
    expect(holdsResources(DomainState.SHUTOFF)).toBe(false);
  });
});
