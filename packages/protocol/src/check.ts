/**
 * The checks both contracts' validators are made of (validate.ts for agents,
 * validate-host.ts for hosts), written once: each names the field it rejects,
 * so a rejection read in a log points at the bug on the other side.
 */
import { FroctalError } from "@froctal/primitives";
import type { Limits } from "./limits.js";

/** Metric, event, task and feature names. */
export const NAME = /^[A-Za-z_][A-Za-z0-9_.:-]*$/;
/** Instance, host, stream and device ids: no spaces, slashes or quotes, so they are safe in paths and logs. */
export const ID = /^[A-Za-z0-9][A-Za-z0-9_.:@-]*$/;

export class Check {
  constructor(readonly limits: Limits) {}

  fail(path: string, problem: string): never {
    throw new FroctalError("FROCTAL_E_FRAME_INVALID", `${path} ${problem}`);
  }

  uint(path: string, value: unknown): void {
    if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) {
      this.fail(path, `must be a whole number from 0 to 2^53, not ${String(value)}`);
    }
  }

  /** A whole number of at least `min` (a count or a version, where 0 means nothing). */
  atLeast(path: string, value: unknown, min: number): void {
    this.uint(path, value);
    if ((value as number) < min) this.fail(path, `must be at least ${min}, not ${String(value)}`);
  }

  text(path: string, value: unknown, max = this.limits.maxTextLength): void {
    if (typeof value !== "string") this.fail(path, "must be a string");
    if (value.length > max) this.fail(path, `is ${value.length} characters long; the limit is ${max}`);
  }

  /** Text that must say something: empty is refused. */
  filled(path: string, value: unknown, max = this.limits.maxTextLength): void {
    this.text(path, value, max);
    if ((value as string).length === 0) this.fail(path, "is empty");
  }

  pattern(path: string, value: unknown, re: RegExp, what: string, optional = false): void {
    this.text(path, value, this.limits.maxNameLength);
    const s = value as string;
    if (s.length === 0) {
      if (optional) return;
      this.fail(path, "is empty");
    }
    if (!re.test(s)) this.fail(path, `is not a valid ${what}: ${JSON.stringify(s)}`);
  }

  enumValue(path: string, value: unknown, max: number): void {
    if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > max) {
      this.fail(path, `must be one of the contract's values 1..${max}, not ${String(value)}`);
    }
  }

  count(path: string, list: readonly unknown[], max: number): void {
    if (list.length > max) this.fail(path, `has ${list.length} entries; the limit is ${max}`);
  }

  bytes(path: string, value: unknown): void {
    if (!(value instanceof Uint8Array)) this.fail(path, "must be bytes");
    if (value.length > this.limits.maxPayloadBytes) {
      this.fail(path, `is ${value.length} bytes; the limit is ${this.limits.maxPayloadBytes}`);
    }
  }

  /**
   * The one case of a oneof that is set. A decoded message has at most one
   * (protobuf keeps the last); a message built by hand may have none or two,
   * and both are refused rather than one picked.
   */
  oneCase<K extends string>(path: string, message: object, cases: readonly K[], what = "case"): K {
    const fields = message as Partial<Record<K, unknown>>;
    const set = cases.filter((k) => fields[k] !== undefined && fields[k] !== null);
    if (set.length === 0) this.fail(path, `carries no ${what} this protocol version knows`);
    if (set.length > 1) this.fail(path, `sets ${set.join(" and ")}; exactly one ${what} may be set`);
    return set[0]!;
  }
}

/** A Refuse (manager.proto), which the manager sends agents and hosts alike. */
export function checkRefuse(
  c: Check,
  refuse: { readonly code?: unknown; readonly reason?: unknown; readonly retryAfterMs?: unknown },
): void {
  c.text("refuse.code", refuse.code, c.limits.maxNameLength);
  c.text("refuse.reason", refuse.reason);
  c.uint("refuse.retry_after_ms", refuse.retryAfterMs);
}
