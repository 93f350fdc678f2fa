import { FroctalError } from "@froctal/primitives";
import { describe, expect, it } from "vitest";
import { netnsCommand, runIpTool, toIpError } from "./ip.js";

const ip = (...args: string[]) => ({ file: "/usr/sbin/ip", args });
const failed = { code: 1, killed: false };

describe("netnsCommand", () => {
  it("runs the command as given behind `ip netns exec`", () => {
    expect(netnsCommand("froctal-ab", ["/usr/bin/node", "server.js", "--port", "80"])).toEqual({
      file: "/usr/sbin/ip",
      args: ["netns", "exec", "froctal-ab", "/usr/bin/node", "server.js", "--port", "80"],
    });
    expect(netnsCommand("froctal-ab", ["sleep", "1"], "/sbin/ip").file).toBe("/sbin/ip");
    expect(() => netnsCommand("froctal-ab", [])).toThrow(
      "FROCTAL_E_CONFIG: nothing to run in namespace froctal-ab: the command is empty",
    );
  });
});

describe("toIpError (what these tools print, as FroctalErrors)", () => {
  it("not root: names what is needed", () => {
    // Printed by `ip netns add` and `ip link add` run as uid 65534 on Debian 12.
    for (const [argv, stderr] of [
      [ip("netns", "add", "froctal-ab"), "mount --make-shared /run/netns failed: Operation not permitted\n"],
      [ip("link", "add", "fvab"), "RTNETLINK answers: Operation not permitted\n"],
    ] as const) {
      const error = toIpError(argv, 10_000, failed, stderr);
      expect([error.code, error.retryable]).toEqual(["FROCTAL_E_CONFIG", false]);
      expect(error.sentence).toBe(
        `\`ip ${argv.args.join(" ")}\` was not permitted (${stderr.trim()}): plugging guests into a bridge needs root ` +
          "(CAP_NET_ADMIN and CAP_SYS_ADMIN, for network namespaces and veths); run froctal as root",
      );
    }
  });

  it("a refusal carries the tool's words, on one line", () => {
    const error = toIpError(ip("-n", "froctal-ab", "-batch", "-"), 10_000, failed, "Error: bad\nCommand failed -:1\n");
    expect(error.sentence).toBe("`ip -n froctal-ab -batch -` refused: Error: bad; Command failed -:1");
  });

  it("too slow: a retryable timeout", () => {
    const error = toIpError(ip("link", "show"), 500, { killed: true, signal: "SIGTERM" as const }, "");
    expect([error.code, error.retryable, error.sentence]).toEqual([
      "FROCTAL_E_TIMEOUT",
      true,
      "`ip link show` did not finish within 500 ms",
    ]);
  });

  it("the tool missing, for real: names the package to install", async () => {
    const error = await runIpTool({}, { file: "/nonexistent/ethtool", args: ["-k", "lo"] }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(FroctalError);
    expect((error as FroctalError).sentence).toBe(
      "/nonexistent/ethtool does not exist: install Debian's ethtool package",
    );
  });
});
