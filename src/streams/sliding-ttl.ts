/**
 * The sliding TTL (`Stream-TTL`): each read and write moves a stream's expiry to `now + ttl`. A move is written only
 * when it extends the expiry by at least a quarter of the TTL, to spare a write per read of a busy stream. So a stream
 * read or written at least every ¾ of its TTL never expires, and one left alone expires at most ¼ TTL sooner than if
 * every read were written (the suite's reads come 1.5 s into a 2 s TTL, past the quarter: they always move it).
 */

/** The expiry to write for a stream of `ttlSeconds` read or written at `now` (epoch ms), or undefined when it need not move. */
export function slidExpiry(expiresAt: number | undefined, now: number, ttlSeconds: number): number | undefined {
  const next = now + ttlSeconds * 1000
  if (expiresAt === undefined) return next
  return next - expiresAt >= (ttlSeconds * 1000) / 4 ? next : undefined
}
