/**
 * @froctal/reactive — the FRP bridge between the async data space and the MobX
 * configuration space: absorb (async source -> event stream), hold (stream ->
 * behaviour), until (behaviour -> promise), ticks (many events -> one action)
 * and effect (store -> the outside world), all on an injected Clock (from @froctal/primitives).
 */
export type { EventStream, Listener, StreamEnd, Subscribable } from "./absorb.js";
export { absorb } from "./absorb.js";
export type { EffectOptions } from "./effect.js";
export { effect } from "./effect.js";
export type { Behaviour, Held, HoldOptions } from "./hold.js";
export { hold } from "./hold.js";
export type { Ticker, TickerOptions, TickerState, TickerStats } from "./ticker.js";
export { createTicker } from "./ticker.js";
export type { AbortSignalLike, Until, UntilOptions } from "./until.js";
export { until } from "./until.js";
