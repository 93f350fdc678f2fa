import { Etcd3, type IOptions } from "etcd3";
import { isTransient } from "./errors.js";

type Policy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

/**
 * etcd3's own fault handling (three retries with no pause; a member skipped
 * for 5 s after three failures, even once it is back) is replaced by one loop
 * here, bounded by each call's deadline. The policy object is only ever
 * `execute`d by etcd3's connection pool, so a pass-through needs nothing else.
 */
const direct = {
  execute: <T>(fn: (context: { readonly signal: AbortSignal }) => PromiseLike<T> | T): Promise<T> =>
    Promise.resolve().then(() => fn({ signal: new AbortController().signal })),
} as unknown as Policy;

export function createClient(endpoints: readonly string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    faultHandling: { host: () => direct, global: direct },
    // A deadline on unary calls only: a watch or keepalive stream lives as long as it is wanted.
    defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + timeoutMs }),
  });
}

/** What one attempt of a call may take: a member that swallows packets must not eat the whole deadline. */
const ATTEMPTS_PER_DEADLINE = 3;
const FIRST_PAUSE_MS = 20;
const MAX_PAUSE_MS = 200;

/**
 * Runs a unary call, again on a transient failure (a member down, no raft leader
 * for a moment), each attempt on a member picked at random, until it answers or
 * `timeoutMs` has passed; then rejects with the last failure.
 */
export async function withRetries<T>(
  timeoutMs: number,
  attempt: (options: { readonly deadline: Date }) => Promise<T>,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  const perAttempt = Math.max(100, Math.floor(timeoutMs / ATTEMPTS_PER_DEADLINE));
  let pause = FIRST_PAUSE_MS;
  for (;;) {
    const start = Date.now();
    try {
      return await attempt({ deadline: new Date(Math.min(end, start + perAttempt)) });
    } catch (cause) {
      const left = end - Date.now();
      if (!isTransient(cause) || left <= pause) throw cause;
      await new Promise((resolve) => setTimeout(resolve, pause));
      pause = Math.min(MAX_PAUSE_MS, pause * 2);
    }
  }
}
