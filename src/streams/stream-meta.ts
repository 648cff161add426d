import type { Expiry } from './headers.ts'

/**
 * What a stream's log keeps in its meta, set at creation. The log's state keeps the rest: its forks, and whether it
 * was deleted while they live (`deletedAt`).
 */
export interface StreamMeta {
  /** Normalised (content-type.ts). */
  contentType: string
  expiry: Expiry | undefined
  /** A random token new at each creation: the ETag's stream id, so a stream made again never matches an old tag. */
  etag: string
  /** The fork this stream was created as, for the idempotent PUT's compare. */
  fork?: { source: string; after: number | undefined; sub: number }
}

/** The meta as the log keeps it. */
export const encodeMeta = (meta: StreamMeta): string => JSON.stringify(meta)

/** The meta of a stream's log (written by encodeMeta). */
export function decodeMeta(text: string): StreamMeta {
  return JSON.parse(text) as StreamMeta
}

/** A fresh ETag token: 8 random bytes, base64url. */
export function newEtagToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(8))).toString('base64url')
}

/** Whether two expiries are the same setting (the idempotent PUT). */
export function sameExpiry(a: Expiry | undefined, b: Expiry | undefined): boolean {
  if (a === undefined || b === undefined) return a === b
  if (a.kind === 'ttl') return b.kind === 'ttl' && a.seconds === b.seconds
  return b.kind === 'at' && a.at === b.at
}
