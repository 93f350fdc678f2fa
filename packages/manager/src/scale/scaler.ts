/**
 * Turns a service's replica recommendation into its target, the way a careful
 * operator would: clamp to [min, max]; scale up only when every recommendation
 * in the up-stabilization window asked for more (the smallest of them wins),
 * scale down only when every one in the down window asked for less (the largest
 * wins); respect cooldowns and a maximum step. Pure: time comes in as `now`.
 */
import type { ScaleBehavior } from "../policy/fleet.js";

export interface ScalerSettings {
  readonly min: number;
  readonly max: number;
  readonly up: Required<ScaleBehavior>;
  readonly down: Required<ScaleBehavior>;
}

export function scalerSettings(spec: {
  min?: number;
  max?: number;
  scaleUp?: ScaleBehavior;
  scaleDown?: ScaleBehavior;
}): ScalerSettings {
  return {
    min: spec.min ?? 0,
    max: spec.max ?? Number.POSITIVE_INFINITY,
    up: { stabilizationMs: 0, cooldownMs: 0, maxStep: Number.POSITIVE_INFINITY, ...spec.scaleUp },
    down: { stabilizationMs: 5_000, cooldownMs: 0, maxStep: Number.POSITIVE_INFINITY, ...spec.scaleDown },
  };
}

export interface ScalerState {
  /** Recommendation change points, oldest first: value holds from `at` until the next point. */
  readonly history: readonly { readonly at: number; readonly value: number }[];
  readonly lastUpAt: number;
  readonly lastDownAt: number;
}

export const INITIAL_SCALER: ScalerState = { history: [], lastUpAt: -Infinity, lastDownAt: -Infinity };

export interface ScaleStep {
  readonly target: number;
  readonly state: ScalerState;
  /** When the target could next change if nothing else happens (for a wake-up timer), or undefined. */
  readonly wakeAt: number | undefined;
}

export function clamp(value: number, s: ScalerSettings): number {
  const whole = Number.isFinite(value) ? Math.ceil(value) : s.min;
  return Math.min(s.max, Math.max(s.min, whole));
}

/** One evaluation at `now` with the current clamped recommendation. */
export function step(
  s: ScalerSettings,
  state: ScalerState,
  current: number,
  recommended: number,
  now: number,
): ScaleStep {
  // The bounds are hard, as an HPA's are: a target outside them (the initial 0 below min) moves inside at once.
  const target = Math.min(s.max, Math.max(s.min, current));
  const keepFrom = now - Math.max(s.up.stabilizationMs, s.down.stabilizationMs);
  let history = state.history;
  if (history.length === 0 || history[history.length - 1]!.value !== recommended) {
    history = [...history, { at: now, value: recommended }];
  }
  // Drop points that ended before the longest window; keep the one in force at its start.
  let first = 0;
  while (first + 1 < history.length && history[first + 1]!.at <= keepFrom) first++;
  if (first > 0) history = history.slice(first);

  let next = target;
  let { lastUpAt, lastDownAt } = state;
  let wakeAt: number | undefined;
  if (recommended > target) {
    const lo = windowExtreme(history, now, s.up.stabilizationMs, Math.min);
    if (lo > target && now >= lastUpAt + s.up.cooldownMs) {
      next = Math.min(lo, target + s.up.maxStep);
      lastUpAt = now;
      if (next < recommended) wakeAt = now + Math.max(1, s.up.cooldownMs);
    } else {
      const since = runStart(history, (v) => v > target);
      wakeAt = Math.max(since + s.up.stabilizationMs, lastUpAt + s.up.cooldownMs, now + 1);
    }
  } else if (recommended < target) {
    const hi = windowExtreme(history, now, s.down.stabilizationMs, Math.max);
    if (hi < target && now >= lastDownAt + s.down.cooldownMs) {
      next = Math.max(hi, target - s.down.maxStep);
      lastDownAt = now;
      if (next > recommended) wakeAt = now + Math.max(1, s.down.cooldownMs);
    } else {
      const since = runStart(history, (v) => v < target);
      wakeAt = Math.max(since + s.down.stabilizationMs, lastDownAt + s.down.cooldownMs, now + 1);
    }
  }
  return { target: next, state: { history, lastUpAt, lastDownAt }, wakeAt };
}

/** min or max of the recommendations in force at any time during [now - window, now]. */
function windowExtreme(
  history: ScalerState["history"],
  now: number,
  window: number,
  pick: (a: number, b: number) => number,
): number {
  const from = now - window;
  let result = history[history.length - 1]!.value;
  for (let i = history.length - 2; i >= 0; i--) {
    if (history[i + 1]!.at <= from) break;
    result = pick(result, history[i]!.value);
  }
  return result;
}

/**
 * When the current run of recommendations satisfying `beyond` began. A run
 * that reaches the oldest point kept began, as windowExtreme sees it, before
 * any window: -Infinity, so the wake-up waits only for the cooldown.
 */
function runStart(history: ScalerState["history"], beyond: (value: number) => boolean): number {
  let i = history.length - 1;
  while (i >= 0 && beyond(history[i]!.value)) i--;
  return i < 0 ? Number.NEGATIVE_INFINITY : history[i + 1]!.at;
}
