import { FroctalError } from "@froctal/primitives";

/** The protocol versions this build speaks. */
export const PROTOCOL_VERSION = 1;
export const MIN_PROTOCOL_VERSION = 1;

/**
 * Picks the highest version both sides speak, or refuses with a reason that
 * names both ranges, so whoever reads the log knows which side to upgrade.
 */
export function negotiateVersion(
  peer: { minVersion: number; maxVersion: number },
  ours: { minVersion: number; maxVersion: number } = { minVersion: MIN_PROTOCOL_VERSION, maxVersion: PROTOCOL_VERSION },
): number {
  const chosen = Math.min(peer.maxVersion, ours.maxVersion);
  if (chosen < Math.max(peer.minVersion, ours.minVersion)) {
    throw new FroctalError(
      "FROCTAL_E_VERSION",
      `the peer speaks protocol versions ${peer.minVersion}..${peer.maxVersion} and this side ${ours.minVersion}..${ours.maxVersion}; upgrade the older one`,
    );
  }
  return chosen;
}
