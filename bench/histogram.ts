/**
 * Delivery latencies as a histogram of whole milliseconds. Event timestamps (`ts`) have millisecond resolution, so
 * finer buckets would only record noise; a fixed array also lets every load worker send its samples to the
 * orchestrator as one small message however many million events it saw.
 */

/** The last bucket collects every latency at or above it; milliseconds. */
export const MAX_LATENCY_MS = 60_000

export type Histogram = number[]

export function newHistogram(): Histogram {
  return new Array<number>(MAX_LATENCY_MS + 1).fill(0)
}

/** Counts one sample; negative values (clock read before the event's `ts` was rounded down) count as 0 ms. */
export function record(histogram: Histogram, latencyMs: number): void {
  const bucket = latencyMs <= 0 ? 0 : latencyMs >= MAX_LATENCY_MS ? MAX_LATENCY_MS : Math.floor(latencyMs)
  histogram[bucket]!++
}

/** Adds `from` into `into` and returns `into`. */
export function merge(into: Histogram, from: Histogram): Histogram {
  for (let i = 0; i < into.length; i++) into[i]! += from[i] ?? 0
  return into
}

export function count(histogram: Histogram): number {
  let n = 0
  for (const c of histogram) n += c
  return n
}

/** The smallest latency that `fraction` (0..1) of the samples do not exceed; NaN without samples. */
export function percentile(histogram: Histogram, fraction: number): number {
  const total = count(histogram)
  if (total === 0) return Number.NaN
  const rank = Math.max(1, Math.ceil(total * fraction))
  let seen = 0
  for (let ms = 0; ms < histogram.length; ms++) {
    seen += histogram[ms]!
    if (seen >= rank) return ms
  }
  return MAX_LATENCY_MS
}

/** The largest latency recorded (the worst delivery delay); NaN without samples. */
export function max(histogram: Histogram): number {
  for (let ms = histogram.length - 1; ms >= 0; ms--) if (histogram[ms]! > 0) return ms
  return Number.NaN
}

/** A compact form for IPC: only the non-empty buckets, as [ms, count] pairs. */
export function toSparse(histogram: Histogram): [number, number][] {
  const pairs: [number, number][] = []
  histogram.forEach((c, ms) => {
    if (c > 0) pairs.push([ms, c])
  })
  return pairs
}

export function fromSparse(pairs: [number, number][]): Histogram {
  const histogram = newHistogram()
  for (const [ms, c] of pairs) histogram[ms] = (histogram[ms] ?? 0) + c
  return histogram
}
