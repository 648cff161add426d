import { Elysia } from 'elysia'
import { AppError, type ErrorCode, rateLimited } from '../errors.ts'
import type { RejectReason } from '../metrics.ts'
import { isWellFormedId, newId } from '../session-id.ts'
import { clientIp } from './client-ip.ts'
import type { AppDeps } from './deps.ts'
import { TokenBuckets } from './token-bucket.ts'
import { isPublic, LOGIN_ROUTE, routedPath, WORK_ROUTES } from './guarded-routes.ts'
import { signOutCookie, isHttps } from './auth.ts'
import { seeOther } from './safe-headers.ts'
import { opensWithoutToken } from './viewer-links.ts'
import { STREAM_PATH_PREFIX } from '../streams/stream-name.ts'
import { quoted, withArticle } from '../sentence.ts'

/** What the hooks of one request share, from its arrival to its log line. */
interface RequestState {
  id: string
  /** performance.now() at arrival. */
  started: number
  ip: string
  /** The path its route was found by (`routedPath`). */
  path: string
  /** Set by the app's onError: the answer was this error. */
  problem?: { code: ErrorCode; status: number }
  /**
   * Set when the request offers a credential, which took a token from the sign-in bucket as it arrived: marks it a
   * failed guess (the token stays spent). A request that was not refused as unauthorized gets its token back.
   */
  failedGuess?: () => void
  /** Gives the credential's token back once the request was answered without a 401. */
  settleGuess?: () => void
}

const states = new WeakMap<Request, RequestState>()

/** The request's id (`X-Request-Id`, and its log line's `request_id`). */
export const requestIdOf = (request: Request): string | undefined => states.get(request)?.id

/**
 * The SSE streams put `X-Request-Id` in the headers of the Response they build (src/http/streams.ts) rather than in
 * Elysia's `set.headers`: a header set there makes Elysia copy it onto the Response, which then holds a headers object
 * of its own for the stream's whole life (bench/idle-heap.ts, 10,000 idle streams: 1.2 KiB of RSS a stream).
 */
const STREAM = /^\/(?:events|api\/sessions\/(?:view\/)?[^/]+\/stream)$/

/**
 * The path the request was routed by, as the guards checked it; `/` for a request they refused before reading it.
 * Hooks after the guards use it rather than parsing `request.url` again (which has no host when `Host` was missing).
 */
export const pathOf = (request: Request): string => states.get(request)?.path ?? '/'

/** The client's address as the guards resolved it (per `--trust-proxy`); the streams count connections by it. */
export const ipOf = (request: Request): string => states.get(request)?.ip ?? 'unknown'

/**
 * Records that the request was answered with this error, for its log line and `stepstream_rejected_total`. A 401 to a
 * request that offered a credential — the server's token, a sign-in cookie, a session's publisher token — is a failed
 * guess, and takes from its address's sign-in bucket.
 */
export function noteProblem(request: Request, code: ErrorCode, status: number): void {
  const state = states.get(request)
  if (!state) return
  state.problem = { code, status }
  if (code === 'UNAUTHORIZED') state.failedGuess?.()
}

/** The credential a request offered was right: the sign-in token it took as it arrived goes back at once. */
export function credentialAccepted(request: Request): void {
  states.get(request)?.settleGuess?.()
}

/** The errors that are a refusal by a limit or by auth, and the reason `/metrics` counts them under. */
const REJECTIONS: Partial<Record<ErrorCode, RejectReason>> = {
  RATE_LIMITED: 'rate_limit',
  TOO_MANY_CONNECTIONS: 'connections',
  TOO_MANY_CONNECTIONS_FROM_IP: 'connections_per_ip',
  UNAUTHORIZED: 'auth',
  FOREIGN_ORIGIN: 'origin',
  BODY_TOO_LARGE: 'body_size',
  MESSAGE_TOO_LARGE: 'message_size',
}

const tooManySignIns = (retryAfterSeconds: number) =>
  new AppError(
    'RATE_LIMITED',
    `Too many sign-in attempts from your address. Try again in ${retryAfterSeconds} second${retryAfterSeconds === 1 ? '' : 's'}.`,
    retryAfterSeconds,
  )

const STATE_CHANGING = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** A request id sent by the proxy in front (nginx's `$request_id`) is kept so its log and ours share it. */
const REQUEST_ID = /^[\w.-]{1,64}$/

const unauthorized = () =>
  new AppError('UNAUTHORIZED', 'Sign in first: open /login in a browser, or send the header "Authorization: Bearer <token>".')
const foreignOrigin = (origin: string) =>
  new AppError('FOREIGN_ORIGIN', `A form on ${origin} cannot change anything here: use the page this server serves.`)

/**
 * The origin of a page of another site that sent this request, if one did. `Sec-Fetch-Site` is the browser's own
 * word (a page cannot set it) and is asked first: under the page's `Referrer-Policy: no-referrer`, Chromium sends
 * `Origin: null` even on same-origin posts. Without it (an older browser) `Origin` must name this host. Neither
 * header (curl, a script) is a program, which a cross-site page cannot be: browsers send them on every POST.
 */
function foreignSource(request: Request): string | undefined {
  const origin = request.headers.get('origin')
  const site = request.headers.get('sec-fetch-site')
  if (site !== null) return site === 'same-origin' || site === 'none' ? undefined : (origin ?? `${withArticle(quoted(site))} page`)
  if (origin === null) return undefined
  const host = request.headers.get('host') ?? new URL(request.url).host
  try {
    return new URL(origin).host === host ? undefined : origin
  } catch {
    return origin
  }
}

const wantsPage = (request: Request) =>
  request.method === 'GET' && request.headers.get('hx-request') !== 'true' && /\btext\/html\b/.test(request.headers.get('accept') ?? '')

/**
 * What every request meets before its route, and the line it leaves in the log: a request id (also sent back as
 * `X-Request-Id`), the path checked against the one Elysia routes by, auth when it is on (wrong credentials take from
 * the sign-in bucket, as sign-in attempts do), the `Origin` check on state-changing requests, the token bucket of the
 * client's address on routes that create work; then one JSON log line and the request counters.
 *
 * @param ours whether stepstream serves a path: mounted in an application's own Elysia app, the guards (auth, Origin,
 * limits) must leave the host's routes alone.
 */
export const requestGuards = (deps: AppDeps, ours: (path: string) => boolean = () => true) => {
  const work = deps.rateLimit && new TokenBuckets(deps.rateLimit)
  const signIns = deps.rateLimit && new TokenBuckets(deps.rateLimit)
  const auth = deps.auth

  /** Takes a token for a sign-in attempt; 429 when the address has none left. */
  const attempt = (request: Request) => {
    const taken = signIns?.take(ipOf(request), Date.now())
    if (taken && !taken.ok) throw tooManySignIns(Math.ceil(taken.retryAfterMs / 1000))
  }

  /**
   * A request offering a credential is a guess: it takes a token from its address's sign-in bucket as it arrives, and
   * past the limit it is refused before the credential is even checked (a right guess must look like a wrong one).
   * Taken up front, not at the 401: checking a credential can wait on the store (a sign-in on Redis, a publisher
   * token), and guesses sent together all passed a look at the bucket before the first was refused. A request
   * answered without a 401 gets its token back when it ends, so people and programs with good credentials never run
   * out.
   */
  const gate = (request: Request) => {
    const state = states.get(request)
    if (!signIns || !state || !(request.headers.has('authorization') || auth?.offers(request))) return
    const taken = signIns.take(state.ip, Date.now())
    if (!taken.ok) throw tooManySignIns(Math.ceil(taken.retryAfterMs / 1000))
    state.failedGuess = () => {
      state.failedGuess = undefined
      state.settleGuess = undefined
    }
    state.settleGuess = () => {
      state.failedGuess = undefined
      state.settleGuess = undefined
      signIns.give(state.ip, Date.now())
    }
  }

  /** The checks after auth: the Origin of state-changing requests, then the buckets of the routes that take them. */
  const admit = (request: Request, path: string) => {
    // With auth off a stream follows the protocol's CORS (any origin writes, as any program may); with it on, not.
    const crossOriginOk = auth === undefined && path.startsWith(STREAM_PATH_PREFIX)
    const foreign = STATE_CHANGING.has(request.method) && !crossOriginOk ? foreignSource(request) : undefined
    if (foreign !== undefined) throw foreignOrigin(foreign)
    // Creating a stream is new work, as a chat is, auth or not (a PUT at any path still creates, at --rate-limit's
    // pace: a fork copies its source, so unlimited PUTs could fill the disk); its appends never are: a producer's flow
    // is bounded by its byte budgets.
    const newStream = request.method === 'PUT' && path.startsWith(STREAM_PATH_PREFIX)
    if (request.method !== 'POST' && !newStream) return
    if (LOGIN_ROUTE.test(path)) return attempt(request)
    if (work && (newStream || WORK_ROUTES.some((route) => route.test(path)))) {
      const taken = work.take(ipOf(request), Date.now())
      if (!taken.ok) throw rateLimited(Math.ceil(taken.retryAfterMs / 1000), newStream ? 'new streams' : undefined)
    }
  }

  /** Auth, for a request to a route that needs it: 401 (or the sign-in page for a browser) without a credential. */
  const authenticate = async (request: Request, path: string, set: { headers: Record<string, unknown> }) => {
    if (!auth || isPublic(path)) return
    if (opensWithoutToken(auth.viewerLinks, request.method, path, new URL(request.url).search)) return
    const verdict = await auth.verdict(request)
    if (verdict === 'ok') return credentialAccepted(request)
    // A browser with an expired or signed-out cookie drops it: one of its address's attempts spent, not one a request.
    if (verdict === 'wrong') set.headers['set-cookie'] = signOutCookie(isHttps(request, deps.trustProxy))
    if (wantsPage(request)) {
      // Answered here, not by onError: counted here.
      states.get(request)?.failedGuess?.()
      deps.metrics.rejected('auth')
      const next = path + new URL(request.url).search
      // Elysia adds what `set.headers` holds (the request id, a Set-Cookie) to a response an onRequest hook returns.
      return seeOther(`/login?next=${encodeURIComponent(next)}`)
    }
    set.headers['www-authenticate'] = 'Bearer'
    throw unauthorized()
  }

  const guards = new Elysia({ name: 'guards' }).onRequest(({ request, set, server }) => {
    const offered = deps.trustProxy ? request.headers.get('x-request-id') : null
    const id = offered && REQUEST_ID.test(offered) ? offered : newId()
    const state: RequestState = { id, started: performance.now(), ip: clientIp(request, server, deps.trustProxy), path: '/' }
    states.set(request, state)
    const path = routedPath(request)
    state.path = path
    if (!STREAM.test(path)) set.headers['x-request-id'] = id
    // Every request is logged; only stepstream's own routes are guarded (not a host app's, when mounted in one).
    if (!ours(path) || auth) return
    gate(request)
    admit(request, path)
  })
  // Only with auth on is a hook async (a sign-in is looked up in the store): without it, requests pay nothing for it.
  if (auth) {
    guards.onRequest(async ({ request, set }) => {
      const path = pathOf(request)
      if (!ours(path)) return
      gate(request)
      const early = await authenticate(request, path, set)
      if (early) return early
      admit(request, path)
    })
  }
  return guards.onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue, params, query, body }) => {
    const state = states.get(request)
    if (!state) return
    state.settleGuess?.()
    const status =
      state.problem?.status ??
      (responseValue instanceof Response ? responseValue.status : typeof set.status === 'number' ? set.status : 200)
    const template = route || 'unmatched'
    deps.metrics.httpRequest(template, status)
    const reason = state.problem && REJECTIONS[state.problem.code]
    if (reason) deps.metrics.rejected(reason)
    const sessionId = [params?.id, query?.client_id, (body as { client_id?: unknown } | undefined)?.client_id].find(isWellFormedId)
    // Never the query string or the body: they can hold a message's text.
    deps.log.info('request', {
      request_id: state.id,
      method: request.method,
      route: template,
      status,
      duration_ms: Math.round((performance.now() - state.started) * 10) / 10,
      ...(sessionId ? { session_id: sessionId } : {}),
      ip: state.ip,
    })
  })
}
