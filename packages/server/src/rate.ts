/**
 * A token bucket on the injected clock: `perSec` tokens a second, at most
 * `capacity` saved up. Pure arithmetic over the times it is given, so a test
 * drives it with plain numbers.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly perSec: number,
    private readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  /** Takes `n` tokens and returns 0, or takes none and returns how many ms until `n` would be there. */
  take(n: number, now: number): number {
    this.tokens = Math.min(this.capacity, this.tokens + (Math.max(0, now - this.at) * this.perSec) / 1000);
    this.at = now;
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    // The epsilon keeps float dust (0.99 tokens after 99 ms at 10/s) from adding a millisecond.
    return Math.max(1, Math.ceil(((n - this.tokens) * 1000) / this.perSec - 1e-9));
  }
}
