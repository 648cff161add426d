import { AppError } from '../errors.ts'
import { patternOf } from './allowed-methods.ts'

/*
 * Which routes the guards (request-guards.ts) treat how, and the path they judge a request by. Routes, not spellings:
 * each list is of route templates, matched as Elysia's router matches them.
 */

/**
 * The routes that create work — a chat, a message — each take a token from the client's bucket. Matched by route, on
 * the path Elysia routes by, with the router's own tolerance of one trailing slash (allowed-methods.ts): whatever
 * spelling reaches one of these handlers takes its token, and every other spelling reaches no handler (404). Checked
 * in `onRequest` rather than in a global `onBeforeHandle`: that hook made Elysia handle every route's response
 * differently and cost the fan-out benchmark a sixth of its throughput (0.58× the baseline with it, 0.73× without).
 */
export const WORK_ROUTE_PATHS = [
  '/start',
  '/chat',
  '/edit',
  '/regenerate',
  '/api/sessions',
  '/api/sessions/:id/messages',
  '/api/sessions/:id/fork',
  '/api/sessions/:id/regenerate',
] as const
export const WORK_ROUTES = WORK_ROUTE_PATHS.map(patternOf)

/** The sign-in form's route: its posts take from the sign-in bucket, as wrong credentials do. */
export const LOGIN_ROUTE = patternOf('/login')

/**
 * The publish API authenticates with the session's own publisher token (src/http/publish.ts), which only a signed-in
 * client could have obtained: one `Authorization` header cannot carry two bearer tokens.
 */
const PUBLISH = patternOf('/api/sessions/:id/runs')
const PUBLISH_EVENTS = patternOf('/api/sessions/:id/runs/:run_id/events')

/**
 * Reachable without signing in: liveness, the sign-in page and the page's static assets (nothing private), and the
 * publish API, which has its own token.
 */
export const isPublic = (path: string) =>
  ['/healthz', '/login', '/logout'].some((open) => path === open || path === `${open}/`) ||
  path.startsWith('/assets/') ||
  PUBLISH.test(path) ||
  PUBLISH_EVENTS.test(path)

/**
 * The path Elysia routes by, which the guards must judge: Elysia cuts it out of the URL at the first `/` after the
 * 11th character, assuming a host of four characters or more (its `standardHostname`). With `Host: x`,
 * `/ab/metrics` was routed to `/metrics` while the URL's path named no route of ours, and the guards let it through
 * unsigned. A request whose two paths differ, or whose URL has no host at all (an HTTP/1.0 request without `Host`),
 * is refused here: no route of ours is reached by a path the guards did not see.
 */
export function routedPath(request: Request): string {
  const url = request.url
  // Elysia's own cut (its general handler, with `standardHostname` at its default).
  const start = url.indexOf('/', 11)
  const query = url.indexOf('?', start + 1)
  const path = url.substring(start, query === -1 ? undefined : query)
  const parsed = URL.parse(url)
  if (parsed?.pathname !== path) throw badHost()
  return path
}

const badHost = () =>
  new AppError(
    'BAD_REQUEST',
    'This server is reached by its name: send a Host header of four characters or more, such as "example.com" or "localhost:8080".',
  )
