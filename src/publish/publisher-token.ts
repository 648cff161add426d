import { createHash, timingSafeEqual } from 'node:crypto'

/**
 * A session's publisher token: 32 random bytes, base64url. It is shown once, when the session is created; the store
 * keeps only its SHA-256, so a copy of the database cannot publish.
 */
export function newPublisherToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(32))).toString('base64url')
}

/** The hex SHA-256 of a token: what the store keeps. */
export function hashPublisherToken(token: string): string {
  return createHash('sha256').update(token).digest('hex')
}

/** True when `token` is the one whose hash is `hash`; compares in constant time, so timing tells nothing of it. */
export function publisherTokenMatches(hash: string, token: string): boolean {
  const given = Buffer.from(hashPublisherToken(token), 'hex')
  const kept = Buffer.from(hash, 'hex')
  return given.length === kept.length && timingSafeEqual(given, kept)
}

/** The token of an `Authorization: Bearer <token>` header, if it has one. */
export function bearerToken(header: string | null): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')
  return match?.[1]
}
