import { describe, expect, it } from "vitest";
import { classifyLibvirtMessage, failureOf, libvirtError } from "./errors.js";

describe("classifyLibvirtMessage", () => {
  // Messages as libvirt 9 and virsh print them.
  it.each([
    ["Domain not found: no domain with matching uuid '1234' (x)", "gone"],
    ["Domain not found", "gone"],
    ["failed to get domain 'nope'", "gone"],
    ["operation failed: domain 'chan' already exists with uuid 1234", "exists"],
    ["Requested operation is not valid: domain 'x' is already active", "exists"],
    ["internal error: domain 'plain' not running", "inactive"],
    ["Requested operation is not valid: domain is not running", "inactive"],
    ["unable to connect to server at '127.0.0.1:1': Connection refused", "transport"],
    ["Failed to connect socket to '/var/run/libvirt/libvirt-sock': No such file or directory", "transport"],
    ["Cannot recv data: Connection reset by peer", "transport"],
    ["internal error: client socket is closed", "transport"],
    ["End of file while reading data: Input/output error", "transport"],
    ["Failed to connect socket to '/var/run/libvirt/libvirt-sock': Permission denied", "denied"],
    ["authentication failed: access denied by policy", "denied"],
    [
      "Timed out during operation: cannot acquire state change lock (held by monitor=remoteDispatchDomainCreateXML)",
      "timeout",
    ],
    ["this function is not supported by the connection driver: virDomainAttachDeviceFlags", "unsupported"],
    ["unsupported configuration: unknown OS type 'bogus'", "invalid"],
    ["XML error: failed to parse xml document '/nonexistent.xml'", "invalid"],
    ["(domain_definition):1: expected '>'", "invalid"],
    ["missing name information", "invalid"],
    ["Cannot allocate memory", "resources"],
    ["internal error: process exited while connecting to monitor", "other"],
  ])("%s -> %s", (message, failure) => {
    expect(classifyLibvirtMessage(message)).toBe(failure);
  });
});

describe("libvirtError", () => {
  it("maps to stable codes with the retryable flag, keeps the cause, says what was attempted", () => {
    const error = libvirtError("Cannot recv data: Connection reset by peer", "listing domains on qemu:///system");
    expect(error).toMatchObject({ code: "FROCTAL_E_TRANSPORT", retryable: true, failure: "transport" });
    expect(error.message).toBe(
      "FROCTAL_E_TRANSPORT: listing domains on qemu:///system failed: Cannot recv data: Connection reset by peer",
    );
    expect(libvirtError(new Error("missing name information"), "x")).toMatchObject({
      code: "FROCTAL_E_CONFIG",
      retryable: false,
    });
    expect(libvirtError("Domain not found", "x").code).toBe("FROCTAL_E_NOT_FOUND");
    expect(libvirtError("Cannot allocate memory", "x")).toMatchObject({ code: "FROCTAL_E_RESOURCES", retryable: true });
    expect(libvirtError("odd", "x")).toMatchObject({ code: "FROCTAL_E_INTERNAL", retryable: false });
  });

  it("classifies once: a classified error passes through, anything else has no failure", () => {
    const error = libvirtError("Domain not found", "x");
    expect(libvirtError(error, "y")).toBe(error);
    expect(failureOf(error)).toBe("gone");
    expect(failureOf(new Error("Domain not found"))).toBeUndefined();
  });
});
