/**
 * The host contract's codec (host.proto), the same three steps as codec.ts:
 * check the size, decode, validate; whatever fails is a FroctalError with a
 * stable code.
 */
import { checkSize, decodeWith } from "./codec.js";
import type { CheckedHostControl, CheckedHostFrame } from "./host-frames.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { validateHostControl, validateHostFrame } from "./validate-host.js";
import { type HostControl, type HostFrame, v1 } from "./wire.js";

/** A frame the host daemon sends the manager. */
export function encodeHostFrame(frame: HostFrame): Uint8Array {
  return v1.HostFrame.encode(frame).finish();
}

/** A frame the manager sends a host. */
export function encodeHostControl(frame: HostControl): Uint8Array {
  return v1.HostControl.encode(frame).finish();
}

export function decodeHostFrame(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): CheckedHostFrame {
  checkSize(bytes, limits);
  return validateHostFrame(
    decodeWith(() => v1.HostFrame.decode(bytes), "HostFrame"),
    limits,
  );
}

export function decodeHostControl(bytes: Uint8Array, limits: Limits = DEFAULT_LIMITS): CheckedHostControl {
  checkSize(bytes, limits);
  return validateHostControl(
    decodeWith(() => v1.HostControl.decode(bytes), "HostControl"),
    limits,
  );
}
