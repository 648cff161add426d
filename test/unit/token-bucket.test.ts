import { describe, expect, test } from 'bun:test'
import { rateLimitSpec } from '../../src/config.ts'
import { TokenBuckets } from '../../src/http/token-bucket.ts'

describe('token bucket', () => {
  const perMinute = (n: number, burst = n) => new TokenBuckets({ capacity: burst, perMs: 60_000 / n })

  test('a full bucket lets a burst of `capacity` through at once, then refuses with the wait until the next token', () => {
    const buckets = perMinute(30)
    for (let i = 0; i < 30; i++) expect(buckets.take('a', 0)).toEqual({ ok: true })
    expect(buckets.take('a', 0)).toEqual({ ok: false, retryAfterMs: 2000 })
    expect(buckets.take('a', 500)).toEqual({ ok: false, retryAfterMs: 1500 })
  })

  test('tokens refill at the rate, never above the capacity', () => {
    const buckets = perMinute(30, 5)
    for (let i = 0; i < 5; i++) buckets.take('a', 0)
    expect(buckets.take('a', 1999).ok).toBe(false)
    expect(buckets.take('a', 2000).ok).toBe(true)
    expect(buckets.take('a', 2000).ok).toBe(false)
    // An hour later the bucket holds its 5, not 1,800.
    for (let i = 0; i < 5; i++) expect(buckets.take('a', 3_600_000).ok).toBe(true)
    expect(buckets.take('a', 3_600_000).ok).toBe(false)
  })

  test('each key has its own bucket', () => {
    const buckets = perMinute(1)
    expect(buckets.take('a', 0).ok).toBe(true)
    expect(buckets.take('a', 0).ok).toBe(false)
    expect(buckets.take('b', 0).ok).toBe(true)
  })

  test('a refused take costs nothing: waiting out the Retry-After is enough', () => {
    const buckets = perMinute(60, 1)
    buckets.take('a', 0)
    for (let t = 0; t < 1000; t += 100) expect(buckets.take('a', t).ok).toBe(false)
    expect(buckets.take('a', 1000).ok).toBe(true)
  })

  test('buckets that refilled are swept once the map is full, so memory holds only busy keys', () => {
    const buckets = new TokenBuckets({ capacity: 1, perMs: 1000 }, 100)
    for (let i = 0; i < 100; i++) buckets.take(`k${i}`, 0)
    expect(buckets.size).toBe(100)
    buckets.take('late', 1000)
    expect(buckets.size).toBe(1)
  })
})

describe('give', () => {
  test('puts a taken token back, never above the capacity, and a bucket full again is no longer kept', () => {
    const buckets = new TokenBuckets({ capacity: 2, perMs: 1000 })
    buckets.take('k', 0)
    buckets.take('k', 0)
    expect(buckets.take('k', 0).ok).toBe(false)
    buckets.give('k', 0)
    expect(buckets.take('k', 0)).toEqual({ ok: true })
    buckets.give('k', 0)
    buckets.give('k', 0)
    buckets.give('k', 0)
    expect(buckets.size).toBe(0)
    for (let i = 0; i < 2; i++) expect(buckets.take('k', 0).ok).toBe(true)
    expect(buckets.take('k', 0).ok).toBe(false)
  })
})

describe('--rate-limit', () => {
  test('30/m is a burst of 30 then one every 2 s; a burst can be given; off turns it off', () => {
    expect(rateLimitSpec('30/m')).toEqual({ capacity: 30, perMs: 2000 })
    expect(rateLimitSpec('120/h,10')).toEqual({ capacity: 10, perMs: 30_000 })
    expect(rateLimitSpec('5/s')).toEqual({ capacity: 5, perMs: 200 })
    expect(rateLimitSpec('off')).toBeUndefined()
  })

  test('anything else is refused with an example', () => {
    for (const bad of ['30', '0/m', '30/d', '30/m,0', 'lots']) expect(() => rateLimitSpec(bad)).toThrow(/like 30\/m/)
  })
})
