/** Limits enforced at the edge, before anything reaches a store or a handler. */
export interface Limits {
  /** Largest encoded frame, in bytes; checked before decoding. */
  readonly maxFrameBytes: number;
  /** Most events in one batch. */
  readonly maxBatchEvents: number;
  /** Most metric samples in one batch. */
  readonly maxBatchSamples: number;
  /** Longest name or id (instance id, metric name, device id...), in UTF-16 units. */
  readonly maxNameLength: number;
  /** Longest free-text field (reasons, details, property values). */
  readonly maxTextLength: number;
  /** Most properties on one device event. */
  readonly maxProperties: number;
  /** Largest application event payload or config, in bytes. */
  readonly maxPayloadBytes: number;
  /** Most guests in one host inventory (host.proto). */
  readonly maxInventoryGuests: number;
}

export const DEFAULT_LIMITS: Limits = Object.freeze({
  maxFrameBytes: 1 << 20,
  maxBatchEvents: 4096,
  maxBatchSamples: 16384,
  maxNameLength: 128,
  maxTextLength: 4096,
  maxProperties: 64,
  maxPayloadBytes: 512 * 1024,
  maxInventoryGuests: 10_000,
});
