import { createHash, timingSafeEqual } from 'node:crypto'

/** The sign-in cookie's name. */
export const AUTH_COOKIE = 'stepstream_auth'

/** How long the sign-in cookie lasts; seconds (30 days). */
const COOKIE_MAX_AGE_S = 30 * 24 * 3600

const digest = (text: string) => createHash('sha256').update(text).digest()

/**
 * What the cookie holds for a token: a hash of it, so the browser's cookie jar never holds the bearer token itself
 * (a copied cookie opens the pages, as any session cookie does, but is not the token a program was given).
 */
const cookieValueOf = (token: string) => digest(`stepstream cookie\0${token}`).toString('base64url')

/**
 * Opt-in auth (`--auth-token`, `--auth-token-file`): a request is let in with `Authorization: Bearer <token>` or the
 * cookie the sign-in page sets. Every comparison is of two SHA-256 digests with `timingSafeEqual`, against every
 * token, so neither a token's length nor how much of it a guess got right shows in the time an answer takes.
 */
export class TokenAuth {
  readonly #tokens: Buffer[]
  readonly #cookies: Buffer[]

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new Error('TokenAuth needs at least one token')
    this.#tokens = tokens.map(digest)
    this.#cookies = tokens.map((token) => digest(cookieValueOf(token)))
  }

  /** True for a request that carries a valid bearer token or sign-in cookie. */
  allows(request: Request): boolean {
    const bearer = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1]
    if (bearer !== undefined && this.isToken(bearer)) return true
    const cookie = cookieOf(request, AUTH_COOKIE)
    return cookie !== undefined && matchesAny(digest(cookie), this.#cookies)
  }

  /** True when `candidate` is one of the tokens. */
  isToken(candidate: string): boolean {
    return matchesAny(digest(candidate), this.#tokens)
  }

  /** The `Set-Cookie` value that signs a browser in with `token` (which must be valid); `secure` over HTTPS. */
  signInCookie(token: string, secure: boolean): string {
    return cookieHeader(cookieValueOf(token), COOKIE_MAX_AGE_S, secure)
  }
}

/** The `Set-Cookie` value that signs a browser out. */
export const signOutCookie = (secure: boolean) => cookieHeader('', 0, secure)

// HttpOnly: page scripts never need it. SameSite=Strict: a page on another site cannot make the browser send it.
// Secure only over HTTPS, or a browser on plain http://localhost would drop it.
const cookieHeader = (value: string, maxAge: number, secure: boolean) =>
  `${AUTH_COOKIE}=${value}; Path=/; Max-Age=${maxAge}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`

/** Compares against every entry, without stopping at a match, so that the time does not tell which one matched. */
function matchesAny(candidate: Buffer, digests: readonly Buffer[]): boolean {
  let found = false
  for (const known of digests) found = timingSafeEqual(candidate, known) || found
  return found
}

function cookieOf(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    if (key === name) return value.join('=')
  }
  return undefined
}

/**
 * True when the request came over HTTPS: its own URL says so, or, behind a proxy we trust, `X-Forwarded-Proto`
 * (nginx terminates TLS and speaks plain HTTP to us).
 */
export function isHttps(request: Request, trustProxy: boolean): boolean {
  if (new URL(request.url).protocol === 'https:') return true
  return trustProxy && request.headers.get('x-forwarded-proto') === 'https'
}
