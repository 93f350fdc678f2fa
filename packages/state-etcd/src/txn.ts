import { FroctalError } from "@froctal/primitives";
import type { Etcd3, ICompare, IRequestOp, IResponseOp } from "etcd3";
import { withRetries } from "./client.js";

/**
 * A key whose creation revision proves a writer still has the right to write:
 * the leader's campaign key (an etcd election). Recreated by a successor, it
 * no longer matches, and every write guarded by the old revision is refused,
 * even one from a leader frozen and resumed long after it lost.
 */
export interface WriteGuard {
  readonly key: string;
  readonly createRevision: string;
}

export interface TxnRequest {
  readonly compare: readonly ICompare[];
  readonly success: readonly IRequestOp[];
  readonly failure: readonly IRequestOp[];
}

export interface TxnResult {
  readonly succeeded: boolean;
  /** The responses of the branch that ran, without the guard's own read. */
  readonly responses: readonly IResponseOp[];
  /** The revision the transaction committed at (the mod revision of every key it wrote). */
  readonly revision: string;
}

/**
 * The one door for every write after load: a transaction, guarded when a guard
 * is given (its compare first, and a read of its key on the failure side to tell
 * a lost guard from the caller's own compares failing). A lost guard rejects
 * with FROCTAL_E_CLOSED: the writer must stop writing, and trying again cannot help.
 */
export async function commitTxn(
  client: Etcd3,
  request: TxnRequest,
  guard: WriteGuard | undefined,
  timeoutMs: number,
): Promise<TxnResult> {
  const compare = guard === undefined ? request.compare : [guardCompare(guard), ...request.compare];
  const failure = guard === undefined ? request.failure : [...request.failure, rangeOf(guard.key)];
  const response = await withRetries(timeoutMs, (options) =>
    client.kv.txn({ compare: [...compare], success: [...request.success], failure: [...failure] }, options),
  );
  const revision = response.header.revision;
  if (response.succeeded || guard === undefined)
    return { succeeded: response.succeeded, responses: response.responses, revision };
  const responses = response.responses.slice(0, -1);
  const held = response.responses.at(-1)?.response_range.kvs[0]?.create_revision;
  if (held !== guard.createRevision) {
    const now = held === undefined ? "is gone" : `was created again at revision ${held}`;
    throw new FroctalError(
      "FROCTAL_E_CLOSED",
      `the write was refused: the guard key ${guard.key} of revision ${guard.createRevision} ${now}, so this writer no longer leads`,
    );
  }
  return { succeeded: false, responses, revision };
}

function guardCompare(guard: WriteGuard): ICompare {
  return { key: Buffer.from(guard.key), target: "Create", result: "Equal", create_revision: guard.createRevision };
}

export function putOf(key: string, value: string): IRequestOp {
  return { request_put: { key: Buffer.from(key), value: Buffer.from(value) } };
}

export function deleteOf(key: string): IRequestOp {
  return { request_delete_range: { key: Buffer.from(key) } };
}

export function rangeOf(key: string): IRequestOp {
  return { request_range: { key: Buffer.from(key) } };
}

/** Every key that starts with `prefix`: etcd's range end is the prefix with its last byte raised by one. */
export function prefixRangeOf(prefix: string): IRequestOp {
  const key = Buffer.from(prefix);
  const end = Buffer.from(key);
  let i = end.length - 1;
  while (i >= 0 && end[i] === 0xff) i--;
  end[i] = (end[i] ?? 0) + 1;
  return { request_range: { key, range_end: end.subarray(0, i + 1) } };
}
