/**
 * @froctal/state-etcd: the manager's State port on an etcd cluster; the
 * ground several managers of one fleet (one leading) will stand on.
 *
 *   etcd-state.ts  openEtcdState: the StateStore (load in one txn, writes queued and batched, flush, close)
 *   keys.ts        the key layout under `<prefix>fleets/<fleet>/`
 *   decode.ts      values to and from etcd; what load refuses
 *   txn.ts         commitTxn, the one door for writes, with its optional guard (fencing)
 *   client.ts      the etcd3 client: deadlines on unary calls, retries across members
 *   errors.ts      etcd failures as FroctalErrors
 *   leadership.ts  campaign: leader election on an etcd lease, and the guard that fences the leader's writes
 */
export { type EtcdState, type EtcdStateOptions, MAX_WRITES_PER_TXN, openEtcdState } from "./etcd-state.js";
export { DEFAULT_PREFIX, FORMAT_VERSION } from "./keys.js";
export { type CampaignOptions, type Candidate, campaign, electionPrefix, type Leadership } from "./leadership.js";
export type { WriteGuard } from "./txn.js";
