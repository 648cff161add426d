/**
 * Session and step ids: 16 random bytes (128 bits) from the platform CSPRNG, base64url without padding, so an id
 * is 22 URL-safe characters and cannot be guessed from any other id.
 */
/** The shape of every id this server hands out; the page renders its `source` for public/app.js. */
export const ID_PATTERN = /^[A-Za-z0-9_-]{22}$/

/** A new unguessable id (128 random bits). */
export function newId(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('base64url')
}

/** True when `value` has the shape of an id this server hands out. */
export function isWellFormedId(value: unknown): value is string {
  return typeof value === 'string' && ID_PATTERN.test(value)
}
