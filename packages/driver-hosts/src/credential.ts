/**
 * Each host's credential is derived from the fleet's host secret (kept in the
 * manager's state) and the host's id, so one secret serves every host and no
 * host's credential works under another id or for another fleet.
 */
import { createHmac, timingSafeEqual } from "node:crypto";

/** The credential of host `hostId` in the fleet with this id and secret (43 base64url characters). */
export function hostCredential(hostSecret: string, fleetId: string, hostId: string): string {
  return createHmac("sha256", Buffer.from(hostSecret, "hex"))
    .update(`froctal host ${fleetId} ${hostId}`)
    .digest("base64url");
}

/** Whether `presented` is host `hostId`'s credential; takes the same time however much of it matches. */
export function checkCredential(hostSecret: string, fleetId: string, hostId: string, presented: string): boolean {
  const expected = Buffer.from(hostCredential(hostSecret, fleetId, hostId));
  const given = Buffer.from(presented);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
