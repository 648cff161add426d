import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { DEFAULT_SIGN_IN_TTL_MS } from '../defaults.ts'
import type { SignIns } from '../store/sign-ins.ts'
import type { ViewerLinks } from './viewer-links.ts'

/** The sign-in cookie's name. */
export const AUTH_COOKIE = 'stepstream_auth'

/** Random bytes in a sign-in's id: 256 bits, so ids can be neither guessed nor enumerated. */
const SIGN_IN_ID_BYTES = 32

/** A sign-in id as the cookie carries it: base64url of SIGN_IN_ID_BYTES bytes. Anything else is not looked up. */
const SIGN_IN_ID = /^[\w-]{43}$/

const digest = (text: string) => createHash('sha256').update(text).digest()

/** What the store keeps for a sign-in id: its hash, so a copy of the store signs no one in. */
const signInHash = (id: string) => digest(`stepstream sign-in\0${id}`).toString('base64url')

/**
 * The tokens of `--auth-token` and `--auth-token-file`. Every comparison is of two SHA-256 digests with
 * `timingSafeEqual`, against every token, so neither a token's length nor how much of it a guess got right shows in
 * the time an answer takes.
 */
export class TokenAuth {
  readonly #tokens: Buffer[]

  constructor(tokens: readonly string[]) {
    if (tokens.length === 0) throw new Error('TokenAuth needs at least one token')
    this.#tokens = tokens.map(digest)
  }

  /** True when `candidate` is one of the tokens. */
  isToken(candidate: string): boolean {
    return matchesAny(digest(candidate), this.#tokens)
  }
}

/** What a request's credentials are worth: none offered, one that opens the server, or only wrong ones. */
export type Verdict = 'none' | 'ok' | 'wrong'

export interface SignInOptions {
  /** Where sign-ins are kept: the store's, so that instances sharing it share them. */
  signIns: SignIns
  /** How long a sign-in lasts; milliseconds, default 7 days (`--login-ttl`). */
  ttlMs?: number
  /** The clock, in epoch milliseconds; `Date.now` by default (tests move it). */
  now?: () => number
  /**
   * Whether a chat's read-only link opens without the token (viewer-links.ts); default `open`, `private` with
   * `--private-viewer-links`.
   */
  viewerLinks?: ViewerLinks
}

/**
 * Opt-in auth: a request is let in with `Authorization: Bearer <token>` (programs), or with the cookie of a sign-in
 * (browsers). A sign-in is a random id the server made when the right token was typed on /login, kept in the store
 * as a hash with its expiry: it ends when it expires or at /logout, on every instance, and says nothing of the token.
 */
export class Auth {
  readonly #now: () => number
  readonly #signIns: SignIns
  /** How long a sign-in lasts; milliseconds. */
  readonly ttlMs: number
  /** Whether read-only links open without the token (`open`, the default) or need it too (`private`). */
  readonly viewerLinks: ViewerLinks

  constructor(
    readonly tokens: TokenAuth,
    options: SignInOptions,
  ) {
    this.#signIns = options.signIns
    this.ttlMs = options.ttlMs ?? DEFAULT_SIGN_IN_TTL_MS
    this.#now = options.now ?? Date.now
    this.viewerLinks = options.viewerLinks ?? 'open'
  }

  /** True when the request offers a credential at all (a bearer token or a sign-in cookie): a guess, if wrong. */
  offers(request: Request): boolean {
    return bearerOf(request) !== undefined || cookieOf(request, AUTH_COOKIE) !== undefined
  }

  /** Whether the request's bearer token or sign-in cookie opens the server. */
  async verdict(request: Request): Promise<Verdict> {
    const bearer = bearerOf(request)
    if (bearer !== undefined && this.tokens.isToken(bearer)) return 'ok'
    const cookie = cookieOf(request, AUTH_COOKIE)
    if (cookie !== undefined && SIGN_IN_ID.test(cookie) && (await this.#signIns.has(signInHash(cookie), this.#now()))) return 'ok'
    return bearer === undefined && cookie === undefined ? 'none' : 'wrong'
  }

  /** Starts a sign-in (the token must have been checked) and answers the `Set-Cookie` value; `secure` over HTTPS. */
  async signIn(secure: boolean): Promise<string> {
    const id = randomBytes(SIGN_IN_ID_BYTES).toString('base64url')
    await this.#signIns.add(signInHash(id), this.#now() + this.ttlMs)
    return cookieHeader(id, Math.floor(this.ttlMs / 1000), secure)
  }

  /** Ends the request's sign-in on the server, if it has one, so its cookie opens nothing anywhere any more. */
  async signOut(request: Request): Promise<void> {
    const cookie = cookieOf(request, AUTH_COOKIE)
    if (cookie !== undefined && SIGN_IN_ID.test(cookie)) await this.#signIns.remove(signInHash(cookie))
  }
}

/** The `Set-Cookie` value that makes a browser drop its sign-in cookie. */
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

const bearerOf = (request: Request) => /^Bearer\s+(\S+)\s*$/i.exec(request.headers.get('authorization') ?? '')?.[1]

function cookieOf(request: Request, name: string): string | undefined {
  for (const part of (request.headers.get('cookie') ?? '').split(';')) {
    const [key, ...value] = part.trim().split('=')
    // An empty value is the one /logout sets: no credential.
    if (key === name) return value.join('=') || undefined
  }
  return undefined
}

/**
 * True when the request came over HTTPS: its own URL says so, or, behind a proxy we trust, `X-Forwarded-Proto`
 * (nginx terminates TLS and speaks plain HTTP to us).
 */
export function isHttps(request: Request, trustProxy: boolean): boolean {
  if (request.url.startsWith('https:')) return true
  return trustProxy && request.headers.get('x-forwarded-proto') === 'https'
}
