import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { checkGuestPortSpec, type GuestPortSpec, guestPortNames } from "./guest-spec.js";

const good: GuestPortSpec = { instanceId: "web-1", bridge: "froctal0", address: "10.0.0.2/24" };

function refusal(spec: GuestPortSpec): string {
  try {
    checkGuestPortSpec(spec);
  } catch (error) {
    if (error instanceof FroctalError && error.code === "FROCTAL_E_CONFIG") return error.sentence;
    throw error;
  }
  throw new Error(`${JSON.stringify(spec)} was accepted`);
}

describe("guestPortNames", () => {
  it("derives short, stable names from any instance id, kept apart by scope", () => {
    const names = guestPortNames("", "web-1");
    expect(names).toEqual(guestPortNames("", "web-1"));
    expect(names.hostInterface).toMatch(/^fv[0-9a-f]{12}$/);
    expect(names.namespace).toBe(`froctal-${names.hostInterface.slice(2)}`);
    const odd = guestPortNames("", `a/very long id with spaces/${"x".repeat(300)}`);
    expect(odd.hostInterface).toMatch(/^fv[0-9a-f]{12}$/);
    expect(
      new Set([names, odd, guestPortNames("other", "web-1"), guestPortNames("", "web-2")].map((n) => n.hostInterface))
        .size,
    ).toBe(4);
  });
});

describe("checkGuestPortSpec", () => {
  it("accepts a good spec and spells its MAC in lower case", () => {
    expect(checkGuestPortSpec(good)).toEqual(good);
    expect(checkGuestPortSpec({ ...good, address: "192.168.1.254/32", mac: "02:AB:00:00:00:0F" })).toEqual({
      ...good,
      address: "192.168.1.254/32",
      mac: "02:ab:00:00:00:0f",
    });
  });

  it("refuses bad addresses with a sentence naming the instance and what is expected", () => {
    const expected = (address: string) =>
      `instance web-1: address ${JSON.stringify(address)} is not an IPv4 address with a prefix of 1 to 32 (10.0.0.2/24)`;
    for (const address of [
      "10.0.0.2",
      "10.0.0.256/24",
      "10.0.0.2/33",
      "10.0.0.2/0",
      "010.0.0.2/24",
      "fe80::1/64",
      " 10.0.0.2/24",
    ]) {
      expect(refusal({ ...good, address })).toBe(expected(address));
    }
    for (const address of ["0.0.0.0/8", "127.0.0.1/8", "224.0.0.1/24", "255.255.255.255/32"]) {
      expect(refusal({ ...good, address })).toBe(
        `instance web-1: address ${address} is not a unicast host address (0.x, 127.x and 224.x and above are not)`,
      );
    }
  });

  it("refuses bad MACs, bridges and an empty instance id", () => {
    expect(refusal({ ...good, mac: "02:00:00:00:00" })).toBe(
      'instance web-1: MAC "02:00:00:00:00" is not six hex pairs separated by colons (02:00:00:00:00:01)',
    );
    expect(refusal({ ...good, mac: "01:00:5e:00:00:01" })).toBe(
      "instance web-1: MAC 01:00:5e:00:00:01 is not a unicast address (its first octet must be even, and not all zeros)",
    );
    expect(refusal({ ...good, mac: "00:00:00:00:00:00" })).toBe(
      "instance web-1: MAC 00:00:00:00:00:00 is not a unicast address (its first octet must be even, and not all zeros)",
    );
    expect(refusal({ ...good, bridge: "a-bridge-name-too-long" })).toBe(
      'instance web-1: bridge "a-bridge-name-too-long" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)',
    );
    expect(refusal({ ...good, bridge: "br 0" })).toBe(
      'instance web-1: bridge "br 0" is not an interface name (1 to 15 of A-Z a-z 0-9 _ . : -)',
    );
    expect(refusal({ ...good, instanceId: "" })).toBe("a guest port needs an instance id; this one is empty");
  });
});
