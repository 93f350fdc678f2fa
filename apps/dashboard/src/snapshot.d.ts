/**
 * The contract of the manager's dashboard stream (GET /dashboard/stream): what
 * apps/froctal/src/dashboard-stream.ts projects and this page renders. Types
 * only, so the page depends on no Node package and the manager on no page code;
 * froctal imports it as @froctal/dashboard/snapshot.
 */

/** A journal entry numbered as GET /events numbers it. */
export interface JournalLine {
  /** 1 for the first entry the manager ever wrote. */
  readonly seq: number;
  /** Wall time, ms since the epoch. */
  readonly at: number;
  readonly kind: string;
  readonly service?: string;
  readonly instance?: string;
  readonly message: string;
}

export interface InstanceRow {
  readonly id: string;
  readonly phase: string;
  readonly generation: number;
  readonly connected: boolean;
  readonly load: number | null;
  readonly devices: number;
  /** The host it was placed on; null when no host has it (not placed yet, or gone with its host). */
  readonly host: string | null;
}

/** A machine that runs guests, as the manager's hosts driver sees it. */
export interface HostRow {
  readonly id: string;
  /** up: connected; silent: its link dropped, its guests kept for a grace; lost: past the grace, its guests exited. */
  readonly status: "up" | "silent" | "lost";
  readonly cpus: number;
  /** Guests placed on it. */
  readonly guests: number;
}

export interface ServiceCard {
  readonly name: string;
  readonly target: number;
  readonly recommended: number;
  readonly why: string;
  readonly failure: string | null;
  readonly ready: number;
  readonly total: number;
  /** Instances by phase, all of them. */
  readonly phases: Readonly<Record<string, number>>;
  /** The sum of the load metric over the instances that report it (null if none does). */
  readonly load: number | null;
  readonly instances: readonly InstanceRow[];
  /** Instances not sent as rows. */
  readonly hidden: number;
}

export interface RolloutView {
  readonly generation: number;
  readonly phase: "preparing" | "committing";
  readonly instances: number;
  /** Names capped at MAX_ROWS; the counts are exact. */
  readonly prepared: readonly string[];
  readonly preparedCount: number;
  readonly committed: readonly string[];
  readonly committedCount: number;
  readonly failed: readonly string[];
}

/** What the page receives: a whole picture each time, so a page that missed some needs nothing else. */
export interface Snapshot {
  readonly fleet: string;
  readonly generation: number;
  /** Every host the manager knows, in the order they joined (none when it runs without hosts). */
  readonly hosts: readonly HostRow[];
  /** The network driver and the generation the network runs; null without one (`froctal up --network`). */
  readonly network: { readonly driver: string; readonly generation: number } | null;
  readonly services: readonly ServiceCard[];
  readonly rollout: RolloutView | null;
  /** The last finished rollout, as the journal words it. */
  readonly lastRollout: string | null;
  /** Journal entries ever written, and the last few, numbered as GET /events numbers them. */
  readonly written: number;
  readonly journal: readonly JournalLine[];
}
