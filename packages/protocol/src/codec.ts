/**
 * One codec for both framings: a WebSocket message carries exactly the bytes
 * these functions produce and take; a byte stream carries the same bytes behind
 * a varint length (see delimited.ts). Decoding checks the size first, then
 * decodes, then validates: anything that fails becomes a FroctalError with a
 * stable code, never an exception from deep inside protobufjs.
 */
import { FroctalError } from "@froctal/primitives";
import type { CheckedAgentFrame, CheckedManagerFrame } from "./frames.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { validateAgentFrame, validateManagerFrame } from "./validate.js";
import { type AgentFrame, type ManagerFrame, v1 } from "./wire.js";

export function encodeAgentFrame(frame: AgentFrame): Uint8Array {
  return v1.AgentFrame.encode(frame).finish();
}

export function encodeManagerFrame(frame: ManagerFrame): Uint8Array {
  return v1.ManagerFrame.encode(frame).finish();
}

export function decodeAgentFrame(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): CheckedAgentFrame {
  checkSize(bytes, limits);
  return validateAgentFrame(
    decodeWith(() => v1.AgentFrame.decode(bytes), "AgentFrame"),
    limits,
  );
}

export function decodeManagerFrame(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): CheckedManagerFrame {
  checkSize(bytes, limits);
  return validateManagerFrame(
    decodeWith(() => v1.ManagerFrame.decode(bytes), "ManagerFrame"),
    limits,
  );
}

/** The first guard, before a byte is decoded: an oversize frame costs nothing to refuse. */
export function checkSize(bytes: Uint8Array, limits: Limits): void {
  if (bytes.length > limits.maxFrameBytes) {
    throw new FroctalError(
      "FROCTAL_E_FRAME_TOO_LARGE",
      `a frame of ${bytes.length} bytes is over the limit of ${limits.maxFrameBytes} bytes`,
    );
  }
}

/** Runs a generated decoder; whatever it throws becomes FROCTAL_E_FRAME_MALFORMED naming the message type. */
export function decodeWith<T>(decode: () => T, type: string): T {
  try {
    return decode();
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new FroctalError("FROCTAL_E_FRAME_MALFORMED", `the bytes are not a valid ${type} (${detail})`, { cause });
  }
}
