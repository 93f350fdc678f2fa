/**
 * What the manager's stream (GET /dashboard/stream) sends: a copy of
 * DashboardSnapshot in apps/froctal/src/dashboard-stream.ts, kept here so the
 * page depends on no Node package. The browser test (tools/e2e) reads what the
 * page renders from a live manager, so the two cannot drift unnoticed.
 */
export interface JournalLine {
  readonly seq: number;
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
}

export interface ServiceCard {
  readonly name: string;
  readonly target: number;
  readonly recommended: number;
  readonly why: string;
  readonly failure: string | null;
  readonly ready: number;
  readonly total: number;
  readonly phases: Readonly<Record<string, number>>;
  readonly load: number | null;
  readonly instances: readonly InstanceRow[];
  readonly hidden: number;
}

export interface RolloutView {
  readonly generation: number;
  readonly phase: "preparing" | "committing";
  readonly instances: number;
  readonly prepared: readonly string[];
  readonly preparedCount: number;
  readonly committed: readonly string[];
  readonly committedCount: number;
  readonly failed: readonly string[];
}

export interface Snapshot {
  readonly fleet: string;
  readonly generation: number;
  readonly services: readonly ServiceCard[];
  readonly rollout: RolloutView | null;
  readonly lastRollout: string | null;
  readonly written: number;
  readonly journal: readonly JournalLine[];
}
