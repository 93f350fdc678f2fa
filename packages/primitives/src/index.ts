/**
 * @froctal/primitives — what every froctal package shares and nothing else:
 * errors with stable codes, the injected Clock (real and virtual), Disposer and
 * Disposables, Listeners with one error policy, and parseList for the lists a
 * flag or an environment variable gives. No dependencies, no Node types.
 */
export type { Clock, Disposer } from "./clock.js";
export { Disposables, listen, noop } from "./disposables.js";
export { type ErrorCode, ErrorCodes, FroctalError, isErrorCode, toFroctalError } from "./errors.js";
export { type ListRules, parseList } from "./list.js";
export { isolate, Listeners, rethrowLater } from "./listeners.js";
export { MAX_TIMER_DELAY_MS, systemClock } from "./system-clock.js";
export type { VirtualClockOptions } from "./virtual-clock.js";
export { VirtualClock } from "./virtual-clock.js";
