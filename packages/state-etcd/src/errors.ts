import { type ErrorCode, FroctalError } from "@froctal/primitives";
import {
  EtcdPermissionDeniedError,
  GRPCDeadlineExceededError,
  GRPCResourceExhastedError,
  GRPCUnauthenticatedError,
  isRecoverableError,
} from "etcd3";

/**
 * Turns anything an etcd call threw into a FroctalError naming the endpoints.
 * The code says what the manager can do: wait for etcd (unreachable, no leader,
 * too slow: retryable FROCTAL_E_TRANSPORT), fix its configuration (refused
 * credentials, FROCTAL_E_CONFIG), or report a bug (a request etcd refuses).
 */
export function etcdFailure(cause: unknown, sentence: string, where: string, timeoutMs: number): FroctalError {
  if (cause instanceof FroctalError)
    return new FroctalError(cause.code, `${sentence}: ${cause.sentence}`, { cause, retryable: cause.retryable });
  const detail = cause instanceof Error ? cause.message : String(cause);
  if (cause instanceof GRPCDeadlineExceededError)
    return new FroctalError(
      "FROCTAL_E_TRANSPORT",
      `${sentence}: etcd at ${where} did not answer within ${timeoutMs} ms`,
      {
        cause,
      },
    );
  const code = codeOf(cause);
  const reason = code === "FROCTAL_E_TRANSPORT" ? `etcd at ${where} is unreachable` : `etcd at ${where} refused it`;
  return new FroctalError(code, `${sentence}: ${reason} (${detail})`, { cause });
}

/** Whether trying the same call again (on another member, a moment later) may succeed. */
export function isTransient(cause: unknown): boolean {
  if (!(cause instanceof Error)) return false;
  // Every "recoverable" etcd3 error (unavailable, no leader, a dropped stream), and the circuit breaker's refusal.
  return isRecoverableError(cause) || cause.name === "BrokenCircuitError";
}

function codeOf(cause: unknown): ErrorCode {
  if (isTransient(cause)) return "FROCTAL_E_TRANSPORT";
  if (cause instanceof EtcdPermissionDeniedError || cause instanceof GRPCUnauthenticatedError)
    return "FROCTAL_E_CONFIG";
  if (cause instanceof GRPCResourceExhastedError) return "FROCTAL_E_RESOURCES";
  // "mvcc: database space exceeded" comes as a plain etcd error: the cluster is full until compacted.
  if (cause instanceof Error && cause.message.includes("database space exceeded")) return "FROCTAL_E_RESOURCES";
  // Anything else (too many operations, a request too large) is a request this store should not have made.
  return "FROCTAL_E_INTERNAL";
}
