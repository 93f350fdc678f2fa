import { FroctalError } from "@froctal/protocol";
import { describe, expect, it } from "vitest";
import { defineFleet, type FleetSpec, type ScaleBehavior, type ServiceSpec } from "./fleet.js";

const web: ServiceSpec = { image: "web.js", replicas: 2 };

function problems(spec: FleetSpec): string {
  try {
    defineFleet(spec);
  } catch (error) {
    expect(error).toBeInstanceOf(FroctalError);
    expect((error as FroctalError).code).toBe("FROCTAL_E_CONFIG");
    expect((error as FroctalError).retryable).toBe(false);
    return (error as FroctalError).message;
  }
  throw new Error("expected defineFleet to refuse the spec");
}

const withWeb = (s: Partial<ServiceSpec>): FleetSpec => ({ name: "f", services: { web: { ...web, ...s } } });

describe("defineFleet", () => {
  it("returns the spec itself when it is valid", () => {
    const spec = {
      name: "shop-2",
      services: {
        web: { image: "web.js", replicas: (s: { target: number }) => s.target, min: 1, max: 10, loadMetric: "load" },
        lb: { image: "lb.js", replicas: 0, max: Number.POSITIVE_INFINITY, drainTimeoutMs: 0 },
      },
    } satisfies FleetSpec;
    expect(defineFleet(spec)).toBe(spec);
  });

  it("refuses bad fleet and service names", () => {
    expect(problems({ name: "Shop", services: { web } })).toMatch(/fleet name "Shop" must match/);
    expect(problems({ name: "", services: { web } })).toMatch(/fleet name "" must match/);
    expect(problems({ name: "f", services: { "9web": web } })).toMatch(/service "9web": the name must match/);
    expect(problems({ name: "f", services: { ["a".repeat(64)]: web } })).toMatch(/the name must match/);
    expect(() => defineFleet({ name: "a".repeat(63), services: { web } })).not.toThrow();
  });

  it("needs at least one service", () => {
    expect(problems({ name: "f", services: {} })).toMatch(/a fleet needs at least one service/);
  });

  it("needs an image", () => {
    expect(problems(withWeb({ image: "" }))).toMatch(/service "web": image must be a non-empty string/);
  });

  it("takes a command instead of an image: exactly one of them, the executable first", () => {
    const shell = { name: "f", services: { sh: { command: ["./guest.sh", "--greeting", ""], replicas: 1 } } };
    expect(defineFleet(shell)).toBe(shell);
    expect(problems(withWeb({ command: ["/bin/true"] }))).toBe(
      'FROCTAL_E_CONFIG: the fleet definition is invalid: service "web": image and command exclude each other; give one of them',
    );
    expect(problems({ name: "f", services: { web: { replicas: 1 } } })).toBe(
      'FROCTAL_E_CONFIG: the fleet definition is invalid: service "web": give an image (a Node entry module) or a command (an executable and its arguments)',
    );
    const command = (c: unknown) => problems({ name: "f", services: { sh: { command: c as string[], replicas: 1 } } });
    for (const bad of [[], [""], ["/bin/echo", 1], "/bin/echo hi", [["/bin/echo"]]]) {
      expect(command(bad)).toBe(
        'FROCTAL_E_CONFIG: the fleet definition is invalid: service "sh": command must be a list of strings, the executable first and not empty',
      );
    }
    expect(problems({ name: "f", services: { sh: { command: ["/bin/echo"], args: ["hi"], replicas: 1 } } })).toBe(
      'FROCTAL_E_CONFIG: the fleet definition is invalid: service "sh": args go with an image; a command holds its own arguments',
    );
  });

  it("needs whole, non-negative replicas, or a function", () => {
    for (const replicas of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(problems(withWeb({ replicas }))).toMatch(/replicas must be a whole number >= 0 or a function/);
    }
    expect(problems(withWeb({ replicas: "3" as unknown as number }))).toMatch(/replicas must be/);
    expect(() => defineFleet(withWeb({ replicas: 0 }))).not.toThrow();
  });

  it("needs whole bounds with min <= max", () => {
    expect(problems(withWeb({ min: -1 }))).toMatch(/min must be a whole number >= 0/);
    expect(problems(withWeb({ min: 0.5 }))).toMatch(/min must be a whole number >= 0/);
    expect(problems(withWeb({ min: 3, max: 2 }))).toMatch(/max must be a whole number >= min/);
    expect(problems(withWeb({ max: 2.5 }))).toMatch(/max must be a whole number >= min/);
    expect(() => defineFleet(withWeb({ min: 2, max: 2 }))).not.toThrow();
  });

  it("needs durations that are finite numbers of ms >= 0", () => {
    for (const key of ["drainTimeoutMs", "startTimeoutMs", "stopGraceMs"] as const) {
      for (const v of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(problems(withWeb({ [key]: v }))).toMatch(new RegExp(`${key} must be a number of ms >= 0`));
      }
    }
  });

  it("checks scale behaviours: windows and cooldowns in ms >= 0, a step of at least one whole replica", () => {
    expect(problems(withWeb({ scaleUp: { stabilizationMs: -1 } }))).toMatch(
      /scaleUp.stabilizationMs must be a number of ms >= 0/,
    );
    expect(problems(withWeb({ scaleDown: { cooldownMs: Number.NaN } }))).toMatch(/scaleDown.cooldownMs must be/);
    expect(problems(withWeb({ scaleUp: { maxStep: 0 } }))).toMatch(/scaleUp.maxStep must be a whole number >= 1/);
    expect(problems(withWeb({ scaleDown: { maxStep: 1.5 } }))).toMatch(/scaleDown.maxStep must be a whole number >= 1/);
    expect(() =>
      defineFleet(
        withWeb({ scaleUp: { maxStep: Number.POSITIVE_INFINITY }, scaleDown: { stabilizationMs: 0, maxStep: 1 } }),
      ),
    ).not.toThrow();
  });

  it("lists every problem in one sentence", () => {
    const message = problems({ name: "F", services: { web: { ...web, image: "", min: -1 } } });
    expect(message).toMatch(/^FROCTAL_E_CONFIG: the fleet definition is invalid: /);
    expect(message.split("; ")).toHaveLength(3);
  });

  it("checks a spec of any shape, as froctal up does with whatever a module exports", () => {
    const any = (spec: unknown) => problems(spec as FleetSpec);
    expect(any(42)).toBe(
      "FROCTAL_E_CONFIG: the fleet definition is invalid: a fleet is an object { name, services, rollout? }",
    );
    expect(any(null)).toMatch(/a fleet is an object/);
    expect(any({})).toBe(
      "FROCTAL_E_CONFIG: the fleet definition is invalid: fleet name (none) must match /^[a-z][a-z0-9-]{0,62}$/; services must be an object of service specs by name",
    );
    expect(any({ name: 7, services: [] })).toMatch(/fleet name 7 must match .*; services must be an object/);
    expect(any({ name: "f", services: { web: null } })).toMatch(
      /service "web": the spec must be an object \{ image, replicas, ... \}$/,
    );
    expect(any(withWeb({ scaleUp: 3 as unknown as ScaleBehavior }))).toMatch(
      /service "web": scaleUp must be an object/,
    );
    expect(any(withWeb({ args: ["a", 1 as unknown as string] }))).toMatch(
      /service "web": args must be a list of strings/,
    );
    expect(any(withWeb({ env: { A: 1 as unknown as string } }))).toMatch(
      /service "web": env must be an object of strings/,
    );
    expect(any(withWeb({ loadMetric: "" }))).toMatch(/service "web": loadMetric must be a non-empty string/);
    expect(any(withWeb({ config: { uplink: "eth0" } as unknown as ServiceSpec["config"] }))).toMatch(
      /service "web": config must be a function/,
    );
    expect(any({ ...withWeb({}), rollout: { timeoutMs: 0 } })).toMatch(/rollout.timeoutMs must be a number of ms > 0/);
    expect(any(withWeb({ needs: ["kvm", ""] }))).toMatch(/service "web": needs must be a list of host feature names/);
    expect(any(withWeb({ needs: "kvm" as unknown as string[] }))).toMatch(/needs must be a list of host feature names/);
    expect(any({ ...withWeb({}), placement: "spread" as unknown as FleetSpec["placement"] })).toMatch(
      /placement must be a function \(service, hosts\) => host id/,
    );
    expect(() =>
      defineFleet({ ...withWeb({ needs: ["kvm"] }), placement: (_service, hosts) => hosts[0]?.id }),
    ).not.toThrow();
    expect(() =>
      defineFleet({ ...withWeb({ args: ["-v"], env: { A: "1" } }), rollout: { timeoutMs: 100 } }),
    ).not.toThrow();
  });
});
