import type { HostView } from "@froctal/manager";
import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { place } from "./placement.js";

function host(id: string, cpus: number, byService: Record<string, number>, features: string[] = []): HostView {
  const guests = Object.values(byService).reduce((a, b) => a + b, 0);
  return { id, cpus, memoryBytes: 1 << 30, features, guests, guestsOf: (s) => byService[s] ?? 0 };
}

function refusal(run: () => unknown): FroctalError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(FroctalError);
    return error as FroctalError;
  }
  throw new Error("expected a refusal");
}

describe("placement", () => {
  it("spreads a service first: the host with fewest of its instances wins", () => {
    const hosts = [host("a", 8, { web: 2 }), host("b", 1, { web: 1, lb: 5 })];
    expect(place("web", [], hosts, undefined).id).toBe("b");
  });

  it("then weighs capacity: fewest instances per CPU", () => {
    const hosts = [host("a", 2, { lb: 2 }), host("b", 8, { lb: 4 })];
    expect(place("web", [], hosts, undefined).id).toBe("b");
  });

  it("breaks a full tie by the smallest id, whatever the order given", () => {
    expect(place("web", [], [host("b", 2, {}), host("a", 2, {})], undefined).id).toBe("a");
    expect(place("web", [], [host("a", 2, {}), host("b", 2, {})], undefined).id).toBe("a");
  });

  it("places only on hosts with every needed feature", () => {
    const hosts = [host("a", 8, {}), host("b", 1, { web: 3 }, ["hotplug-nic", "kvm"])];
    expect(place("web", ["hotplug-nic"], hosts, undefined).id).toBe("b");
    const error = refusal(() => place("web", ["hotplug-nic", "tpm"], hosts, undefined));
    expect(error.code).toBe("FROCTAL_E_NO_HOST");
    expect(error.retryable).toBe(true);
    expect(error.message).toBe(
      "FROCTAL_E_NO_HOST: no host can take an instance of web: none of the 2 hosts up (a, b) has every feature it needs (hotplug-nic, tpm)",
    );
  });

  it("refuses when no host is up", () => {
    expect(refusal(() => place("web", [], [], undefined)).message).toBe(
      "FROCTAL_E_NO_HOST: no host can take an instance of web: no host is up",
    );
  });

  it("lets the fleet's hook choose among the able hosts, and refuses a choice outside them", () => {
    const hosts = [host("a", 8, {}), host("b", 1, {}, ["kvm"]), host("c", 1, {}, ["kvm"])];
    const seen: string[][] = [];
    const last = (_service: string, able: readonly HostView[]) => {
      seen.push(able.map((h) => h.id));
      return able.at(-1)?.id;
    };
    expect(place("vm", ["kvm"], hosts, last).id).toBe("c");
    expect(seen).toEqual([["b", "c"]]);
    expect(refusal(() => place("vm", ["kvm"], hosts, () => "a")).message).toBe(
      'FROCTAL_E_NO_HOST: the fleet\'s placement chose "a" for vm, which is not one of the hosts able to take it (b, c)',
    );
    expect(refusal(() => place("vm", [], hosts, () => undefined)).message).toBe(
      "FROCTAL_E_NO_HOST: the fleet's placement placed no instance of vm on any of a, b, c",
    );
  });
});
