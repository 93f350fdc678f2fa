/**
 * Failover benchmark candidate: one manager's leadership side in a process of
 * its own, so failover.ts can SIGKILL it. It campaigns for the fleet and loads
 * the fleet's state as a standby does, its store fenced by its leadership
 * (every write a transaction guarded by its campaign key). Once elected it
 * makes its first fenced write at once (one putInstance, then flush) and
 * reports when etcd acknowledged it. SIGTERM is the clean handover a manager
 * makes on SIGTERM: resign, close, exit.
 *
 * argv:    endpoints (comma-separated), key prefix, fleet, candidate id, lease TTL in seconds
 * IPC out: {type: "standing-by"} once its state is loaded and its campaign key is listed among the candidates;
 *          {type: "landed", electedAt, landedAt} its first fenced write acknowledged;
 *          {type: "resigned", at, revokedAt} on SIGTERM: when it heard the signal, when etcd revoked its lease;
 *          {type: "failed", message} anything else (not elected, the write refused, lost)
 * Times are `performance.timeOrigin + performance.now()`: one timeline for
 * every process on this machine, with sub-millisecond steps.
 */
import { campaign, openEtcdState } from "@froctal/state-etcd";

/** The process never outlives this, whatever its parent does. */
const MAX_LIFE_MS = 120_000;
const DIAL_TIMEOUT_MS = 2_000;

setTimeout(() => process.exit(3), MAX_LIFE_MS).unref();
process.on("disconnect", () => process.exit(0));

const [endpointList = "", prefix = "/", fleet = "", candidateId = "", ttl = "5"] = process.argv.slice(2);
const endpoints = endpointList.split(",");
const now = () => performance.timeOrigin + performance.now();
const send = (message: unknown) => process.send?.(message);
const failed = (message: string) => send({ type: "failed", message: `${candidateId}: ${message}` });

let refused: string | undefined;
const leadership = campaign({
  endpoints,
  prefix,
  fleet,
  candidateId,
  ttlSeconds: Number(ttl),
  dialTimeoutMs: DIAL_TIMEOUT_MS,
  onLost: (why) => failed(`lost: ${why}`),
});
const store = openEtcdState({
  endpoints,
  prefix,
  dialTimeoutMs: DIAL_TIMEOUT_MS,
  guard: () => leadership.guard(),
  onError: (error) => {
    refused ??= `${error.code}: ${error.message}`;
  },
});

process.once("SIGTERM", () => {
  const at = now();
  void leadership
    .resign()
    .then(
      // Said before exiting, and waited for: process.exit() would drop a message still queued.
      () =>
        new Promise<void>((resolve) => {
          if (process.send === undefined) resolve();
          else process.send({ type: "resigned", at, revokedAt: now() }, () => resolve());
        }),
      (error: unknown) => failed(`could not resign: ${String(error)}`),
    )
    .then(() => Promise.all([store.close(), leadership.close()]))
    .finally(() => process.exit(0));
});

try {
  await store.load(fleet);
  leadership.elected.then(firstWrite, (error: unknown) => failed(`not elected: ${String(error)}`));
  // A standby is only one once its campaign key is in place: then the leader may go.
  for (let tries = 0; tries < 200; tries++) {
    const listed = await leadership.candidates();
    if (listed.some((c) => c.candidateId === candidateId)) {
      send({ type: "standing-by" });
      break;
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
} catch (error) {
  failed(`could not stand by: ${String(error)}`);
}

/** What a new leader's first action writes: one instance record, fenced, and waited for. */
async function firstWrite(): Promise<void> {
  const electedAt = now();
  store.putInstance(fleet, {
    id: candidateId,
    service: "web",
    ordinal: 0,
    token: "0123456789abcdef0123456789abcdef",
    phase: "starting",
    generation: 0,
    configJson: "",
  });
  await store.flush();
  const landedAt = now();
  if (refused === undefined) send({ type: "landed", electedAt, landedAt });
  else failed(`its first write was refused: ${refused}`);
}
