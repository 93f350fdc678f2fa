import { FroctalError } from "@froctal/protocol";

/** One host as placement sees it: what it has, what is in use, how many froctal guests it runs. */
export interface HostLoad {
  readonly uri: string;
  /** Connected and listed at least once: its numbers mean something. */
  readonly usable: boolean;
  /** From nodeGetInfo. */
  readonly memoryKiB: number;
  readonly cpus: number;
  /** Current memory and vCPUs of every active domain on the host, froctal's or not, plus starts under way. */
  readonly usedMemoryKiB: number;
  readonly usedVcpus: number;
  /** froctal instances running there (any fleet), plus starts under way. */
  readonly instances: number;
}

export interface Need {
  readonly memoryKiB: number;
  readonly vcpus: number;
}

/** How far the sum of guests may exceed the host: memory 1 (none), vCPUs 4 unless configured. */
export interface Overcommit {
  readonly memory: number;
  readonly cpus: number;
}

/**
 * Spread: among usable hosts where the guest fits, the one running the fewest
 * froctal instances; ties go to the host listed first. Returns the URI, or a
 * FroctalError saying why no host will do (retryable: capacity frees up,
 * hosts come back).
 */
export function place(hosts: readonly HostLoad[], need: Need, overcommit: Overcommit): string | FroctalError {
  let best: HostLoad | undefined;
  for (const host of hosts) {
    if (!host.usable || !fits(host, need, overcommit)) continue;
    if (best === undefined || host.instances < best.instances) best = host;
  }
  if (best !== undefined) return best.uri;
  const usable = hosts.filter((h) => h.usable);
  if (usable.length === 0) {
    return new FroctalError(
      "FROCTAL_E_TRANSPORT",
      `no libvirt host is reachable (${hosts.map((h) => h.uri).join(", ")})`,
    );
  }
  const free = usable
    .map((h) => `${h.uri} has ${freeMemoryKiB(h, overcommit)} KiB and ${freeVcpus(h, overcommit)} vCPUs free`)
    .join("; ");
  return new FroctalError(
    "FROCTAL_E_RESOURCES",
    `no host has room for a guest of ${need.memoryKiB} KiB and ${need.vcpus} vCPUs: ${free}`,
  );
}

export function fits(host: HostLoad, need: Need, overcommit: Overcommit): boolean {
  return freeMemoryKiB(host, overcommit) >= need.memoryKiB && freeVcpus(host, overcommit) >= need.vcpus;
}

function freeMemoryKiB(host: HostLoad, overcommit: Overcommit): number {
  return Math.max(0, Math.floor(host.memoryKiB * overcommit.memory) - host.usedMemoryKiB);
}

function freeVcpus(host: HostLoad, overcommit: Overcommit): number {
  return Math.max(0, Math.floor(host.cpus * overcommit.cpus) - host.usedVcpus);
}
