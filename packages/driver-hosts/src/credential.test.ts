import { describe, expect, it } from "vitest";
import { checkCredential, hostCredential } from "./credential.js";

const secret = "ab".repeat(32);
const fleetId = "0123456789abcdef0123456789abcdef";

describe("host credentials", () => {
  it("is the same for the same secret, fleet and host, and checks as such", () => {
    const a = hostCredential(secret, fleetId, "a");
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(hostCredential(secret, fleetId, "a")).toBe(a);
    expect(checkCredential(secret, fleetId, "a", a)).toBe(true);
  });

  it("does not work under another host id, fleet id or secret", () => {
    const a = hostCredential(secret, fleetId, "a");
    expect(checkCredential(secret, fleetId, "b", a)).toBe(false);
    expect(checkCredential(secret, "f".repeat(32), "a", a)).toBe(false);
    expect(checkCredential("cd".repeat(32), fleetId, "a", a)).toBe(false);
    expect(checkCredential(secret, fleetId, "a", `${a}x`)).toBe(false);
    expect(checkCredential(secret, fleetId, "a", "")).toBe(false);
  });
});
