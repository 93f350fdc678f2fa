/**
 * @froctal/reactive — the FRP bridge between the async data space and the MobX
 * configuration space, as the manager uses it: ticks (many pushes -> one
 * action), effect (store -> the outside world, errors routed to a handler) and
 * until (behaviour -> promise), all on an injected Clock (from @froctal/primitives).
 */
export type { EffectOptions } from "./effect.js";
export { effect } from "./effect.js";
export type { Ticker, TickerOptions, TickerState, TickerStats } from "./ticker.js";
export { createTicker, TICK_BUCKET_BOUNDS_MS } from "./ticker.js";
export type { AbortSignalLike, Behaviour, Until, UntilOptions } from "./until.js";
export { until } from "./until.js";
