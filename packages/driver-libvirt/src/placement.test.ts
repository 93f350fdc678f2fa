import { describe, expect, it } from "vitest";
import { type HostLoad, place } from "./placement.js";

const overcommit = { memory: 1, cpus: 4 };
const need = { memoryKiB: 64 * 1024, vcpus: 1 };

function host(uri: string, extra: Partial<HostLoad> = {}): HostLoad {
  return { uri, usable: true, memoryKiB: 1024 * 1024, cpus: 2, usedMemoryKiB: 0, usedVcpus: 0, instances: 0, ...extra };
}

describe("place", () => {
  it("spreads: fewest instances first, ties to the host listed first", () => {
    expect(place([host("a"), host("b")], need, overcommit)).toBe("a");
    expect(place([host("a", { instances: 1 }), host("b")], need, overcommit)).toBe("b");
    expect(
      place([host("a", { instances: 2 }), host("b", { instances: 2 }), host("c", { instances: 3 })], need, overcommit),
    ).toBe("a");
  });

  it("skips hosts without room or not usable, whatever their count", () => {
    const full = host("a", { usedMemoryKiB: 1024 * 1024 - 1000 });
    expect(place([full, host("b", { instances: 9 })], need, overcommit)).toBe("b");
    expect(place([host("a", { usable: false }), host("b", { instances: 9 })], need, overcommit)).toBe("b");
    expect(place([host("a", { usedVcpus: 8 }), host("b", { instances: 9 })], need, overcommit)).toBe("b");
  });

  it("lets vCPUs, and memory if asked, exceed the host by the overcommit ratio", () => {
    expect(place([host("a", { usedVcpus: 7 })], need, overcommit)).toBe("a");
    const tight = host("a", { usedMemoryKiB: 1024 * 1024 });
    expect(place([tight], need, { memory: 1.1, cpus: 4 })).toBe("a");
  });

  it("says why no host will do: resources when full, transport when none is usable", () => {
    const full = place([host("a", { usedMemoryKiB: 1024 * 1024 })], need, overcommit);
    expect(full).toMatchObject({ code: "FROCTAL_E_RESOURCES", retryable: true });
    expect(String(full)).toMatch(/a has 0 KiB and 8 vCPUs free/);
    expect(place([host("a", { usable: false })], need, overcommit)).toMatchObject({
      code: "FROCTAL_E_TRANSPORT",
      retryable: true,
    });
  });
});
