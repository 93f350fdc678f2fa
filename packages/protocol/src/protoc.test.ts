/**
 * The contract is real protobuf, not something only protobufjs reads: frames
 * that protoc (the reference implementation) encodes decode here, and frames
 * encoded here decode in protoc. protoc comes from `sh tools/setup/ensure.sh --test`;
 * when it is missing these tests fail, they never skip.
 */
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { protoc, root } from "../test/helpers.js";

// The contract checks themselves: protoc.agent.test.ts (AgentFrame, both ways),
// protoc.manager.test.ts (every ManagerFrame case) and protoc.host.test.ts (every
// HostFrame and HostControl case, both ways).
describe("protoc", () => {
  it("is installed", () => {
    expect(existsSync(`${root}proto/froctal/v1/agent.proto`), `no proto/ under ${root}`).toBe(true);
    expect(protoc(["--version"], "").toString()).toMatch(/^libprotoc \d+\.\d+/);
  });

  it("says how to install it when it is missing", () => {
    expect(() => protoc(["--version"], "", "froctal-no-such-protoc")).toThrow(/sh tools\/setup\/ensure\.sh --test/);
  });
});
