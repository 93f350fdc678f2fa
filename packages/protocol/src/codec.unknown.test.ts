// Frames from a later version of the contract: unknown fields are skipped and
// not kept; a frame case this version does not know is refused.
import { describe, expect, it } from "vitest";
import {
  agentFrames,
  float64,
  lenField,
  managerFrames,
  plain,
  tag,
  thrown,
  u8,
  utf8,
  varint,
} from "../test/helpers.js";
import { decodeAgentFrame, decodeManagerFrame, encodeAgentFrame, encodeManagerFrame } from "./codec.js";
import { v1 } from "./wire.js";

// ---- unknown fields ----------------------------------------------------------

describe("unknown fields", () => {
  // One unknown field of every wire type, with field numbers the contract does not use.
  const unknowns = [
    ...tag(90, 0),
    ...varint(2 ** 31),
    ...tag(91, 1),
    ...float64(1.5),
    ...lenField(92, utf8("from a later version")),
    ...tag(93, 3),
    ...tag(1, 0),
    7,
    ...tag(93, 4),
    ...tag(94, 5),
    1,
    2,
    3,
    4,
  ];

  it("ignores unknown fields around the frame case and does not keep them", () => {
    const hello = encodeAgentFrame(agentFrames.hello);
    const decoded = decodeAgentFrame(u8(unknowns, hello, unknowns));
    expect(plain(decoded)).toEqual(plain(agentFrames.hello));
    expect(Object.hasOwn(decoded, "$unknowns")).toBe(false);
  });

  it("ignores unknown fields inside a message", () => {
    const hello = v1.AgentHello.encode(agentFrames.hello.hello).finish();
    const decoded = decodeAgentFrame(u8(lenField(1, [...unknowns, ...hello, ...unknowns])));
    expect(plain(decoded)).toEqual(plain(agentFrames.hello));
    if (decoded.frame !== "hello") throw new Error(`decoded a ${decoded.frame}`);
    expect(Object.hasOwn(decoded.hello, "$unknowns")).toBe(false);
  });

  it("ignores unknown fields inside a ManagerFrame", () => {
    const ack = encodeManagerFrame(managerFrames.ack);
    expect(plain(decodeManagerFrame(u8(unknowns, ack)))).toEqual(plain(managerFrames.ack));
  });

  it("refuses a frame that carries only a case from a later version", () => {
    const err = thrown(() => decodeAgentFrame(u8(lenField(20, utf8("future")))));
    expect(err.code).toBe("FROCTAL_E_FRAME_INVALID");
    expect(err.sentence).toMatch(/^frame /);
  });
});
