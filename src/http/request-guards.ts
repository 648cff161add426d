import { Elysia } from 'elysia'
import { AppError, type ErrorCode, rateLimited } from '../errors.ts'
import type { RejectReason } from '../metrics.ts'
import { isWellFormedId, newId } from '../session-id.ts'
import { clientIp } from './client-ip.ts'
import type { AppDeps } from './deps.ts'
import { TokenBuckets } from './token-bucket.ts'

/** What the hooks of one request share, from its arrival to its log line. */
interface RequestState {
  id: string
  /** performance.now() at arrival. */
  started: number
  ip: string
  /** Set by the app's onError: the answer was this error. */
  problem?: { code: ErrorCode; status: number }
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

/** The client's address as the guards resolved it (per `--trust-proxy`); the streams count connections by it. */
export const ipOf = (request: Request): string => states.get(request)?.ip ?? 'unknown'

/** Records that the request was answered with this error, for its log line and `stepstream_rejected_total`. */
export function noteProblem(request: Request, code: ErrorCode, status: number): void {
  const state = states.get(request)
  if (state) state.problem = { code, status }
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

/**
 * POSTs that create work — a chat, a message — or try a token: each takes a token from the client's bucket. Matched
 * on the path in `onRequest` rather than on the route template in a global `onBeforeHandle`: that hook made Elysia
 * handle every route's response differently and cost the fan-out benchmark a sixth of its throughput (0.58× the
 * baseline with it, 0.73× without, in one session).
 */
const RATE_LIMITED = /^\/(?:start|chat|login|api\/sessions\/?|api\/sessions\/[^/]+\/messages)$/

/**
 * The publish API authenticates with the session's own publisher token (src/http/publish.ts), which only a signed-in
 * client could have obtained: one `Authorization` header cannot carry two bearer tokens.
 */
const PUBLISH = /^\/api\/sessions\/[^/]+\/runs(?:\/[^/]+\/events)?$/

/**
 * Reachable without signing in: liveness, the sign-in page and the page's static assets (nothing private), and the
 * publish API, which has its own token.
 */
const isPublic = (path: string) =>
  path === '/healthz' || path === '/login' || path === '/logout' || path.startsWith('/assets/') || PUBLISH.test(path)

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
  if (site !== null) return site === 'same-origin' || site === 'none' ? undefined : (origin ?? `a ${site} page`)
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
 * `X-Request-Id`), auth when it is on, the `Origin` check on state-changing requests, the token bucket of the
 * client's address on routes that create work; then one JSON log line and the request counters.
 */
/**
 * @param ours whether stepstream serves a path: mounted in an application's own Elysia app, the guards (auth, Origin,
 * limits) must leave the host's routes alone.
 */
export const requestGuards = (deps: AppDeps, ours: (path: string) => boolean = () => true) => {
  const buckets = deps.rateLimit && new TokenBuckets(deps.rateLimit)
  return new Elysia({ name: 'guards' })
    .onRequest(({ request, set, server }) => {
      const path = new URL(request.url).pathname
      const offered = deps.trustProxy ? request.headers.get('x-request-id') : null
      const id = offered && REQUEST_ID.test(offered) ? offered : newId()
      states.set(request, { id, started: performance.now(), ip: clientIp(request, server, deps.trustProxy) })
      if (!STREAM.test(path)) set.headers['x-request-id'] = id
      // Every request is logged; only stepstream's own routes are guarded (not a host app's, when mounted in one).
      if (!ours(path)) return
      if (deps.auth && !isPublic(path) && !deps.auth.allows(request)) {
        if (wantsPage(request)) {
          deps.metrics.rejected('auth')
          const next = path + new URL(request.url).search
          return new Response(null, { status: 303, headers: { location: `/login?next=${encodeURIComponent(next)}`, 'x-request-id': id } })
        }
        set.headers['www-authenticate'] = 'Bearer'
        throw unauthorized()
      }
      const foreign = STATE_CHANGING.has(request.method) ? foreignSource(request) : undefined
      if (foreign !== undefined) throw foreignOrigin(foreign)
      if (buckets && request.method === 'POST' && RATE_LIMITED.test(path)) {
        const taken = buckets.take(ipOf(request), Date.now())
        if (!taken.ok) throw rateLimited(Math.ceil(taken.retryAfterMs / 1000))
      }
    })
    .onAfterResponse({ as: 'global' }, ({ request, route, set, responseValue, params, query, body }) => {
      const state = states.get(request)
      if (!state) return
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
