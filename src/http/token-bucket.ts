/** A token bucket's shape: `capacity` tokens at most (the burst), refilled at `perMs` milliseconds per token. */
export interface BucketRate {
  /** Tokens a full bucket holds: how many requests may come at once. */
  capacity: number
  /** Milliseconds to refill one token: 60,000 / 30 for 30 a minute. */
  perMs: number
}

export type Take = { ok: true } | { ok: false; retryAfterMs: number }

interface Bucket {
  tokens: number
  /** Epoch milliseconds when `tokens` was last brought up to date. */
  at: number
}

/**
 * One token bucket per key (a client's address), pure arithmetic on the clock it is given. A bucket that has refilled
 * is the same as no bucket, so buckets are dropped once full: memory holds only the keys that were recently busy.
 */
export class TokenBuckets {
  readonly #buckets = new Map<string, Bucket>()
  /** Past this many keys a `take` first drops the buckets that have refilled. */
  readonly #sweepAt: number

  /** @param maxKeys keys kept before full buckets are swept; default 100,000. */
  constructor(
    readonly rate: BucketRate,
    maxKeys = 100_000,
  ) {
    this.#sweepAt = maxKeys
  }

  /** Takes one token from `key`'s bucket at time `now` (epoch ms), or says how long until one is there. */
  take(key: string, now: number): Take {
    const bucket = this.#buckets.get(key)
    const tokens = bucket ? this.#level(bucket, now) : this.rate.capacity
    if (tokens < 1) return { ok: false, retryAfterMs: Math.ceil((1 - tokens) * this.rate.perMs) }
    if (!bucket && this.#buckets.size >= this.#sweepAt) this.#sweep(now)
    this.#buckets.set(key, { tokens: tokens - 1, at: now })
    return { ok: true }
  }

  /** Puts back a token taken from `key`'s bucket at time `now` (epoch ms), up to the bucket's capacity. */
  give(key: string, now: number): void {
    const bucket = this.#buckets.get(key)
    if (!bucket) return
    const tokens = this.#level(bucket, now) + 1
    // A full bucket is no bucket: only the addresses that were busy lately are kept.
    if (tokens >= this.rate.capacity) this.#buckets.delete(key)
    else this.#buckets.set(key, { tokens, at: now })
  }

  /** How many keys hold a bucket that is not full (tests and memory checks). */
  get size(): number {
    return this.#buckets.size
  }

  #level(bucket: Bucket, now: number): number {
    return Math.min(this.rate.capacity, bucket.tokens + Math.max(0, now - bucket.at) / this.rate.perMs)
  }

  #sweep(now: number): void {
    for (const [key, bucket] of this.#buckets) if (this.#level(bucket, now) >= this.rate.capacity) this.#buckets.delete(key)
  }
}
