import { patternOf } from './allowed-methods.ts'

/*
 * Read-only links with auth on: a viewer id is a capability of its own (unguessable, read-only, and never the owner
 * id), so the reads it addresses open without the server's token, which a chat's owner would otherwise have to hand
 * out to share it. The operator can refuse that (`--private-viewer-links`); everything else still needs the token.
 */

/**
 * The reads of a read-only link that open without the token: the routes that take a viewer id in their path (they
 * resolve viewer ids only, so an owner id there is unknown), each GET only.
 */
const VIEWER_PATHS = [
  '/api/sessions/view/:viewer_id',
  '/api/sessions/view/:viewer_id/events',
  '/api/sessions/view/:viewer_id/stream',
  '/api/sessions/view/:viewer_id/transcript.md',
  '/api/sessions/view/:viewer_id/transcript.json',
  // A chat read as a Durable Stream (src/http/durable-streams.ts), JSON mode, read-only.
  '/v1/stream/view/:viewer_id',
].map(patternOf)

/**
 * The routes that take either an owner id (`client_id`) or a viewer id (`view`) in their query, with the other query
 * parameters each takes: a read opens without the token only when its query is `view` once and nothing but these, so
 * that no owner id rides along on it, however spelt.
 */
const VIEWER_QUERIES: readonly [RegExp, ReadonlySet<string>][] = [
  [patternOf('/'), new Set(['view'])],
  [patternOf('/events'), new Set(['view', 'after'])],
  [patternOf('/earlier'), new Set(['view', 'before'])],
]

/** Whether read-only links open without the server's token: on with auth unless `--private-viewer-links`. */
export type ViewerLinks = 'open' | 'private'

/**
 * True when the request reads a chat through its read-only link and `links` lets such reads open without the token:
 * a GET of a viewer route (`/?view=`, its streams, its exports, its earlier part, `/v1/stream/view/<viewer_id>`). The
 * one rule: the guards (request-guards.ts) skip auth for it, and a route that must know whether a request reached it
 * unsigned can ask the same.
 *
 * @param path the path Elysia routes by (`routedPath`), not one parsed again from the URL.
 * @param search the URL's query, with or without its `?`.
 */
export function opensWithoutToken(links: ViewerLinks, method: string, path: string, search: string): boolean {
  if (links !== 'open' || method !== 'GET') return false
  if (VIEWER_PATHS.some((pattern) => pattern.test(path))) return true
  const allowed = VIEWER_QUERIES.find(([pattern]) => pattern.test(path))?.[1]
  if (!allowed) return false
  const keys = [...new URLSearchParams(search).keys()]
  return keys.filter((key) => key === 'view').length === 1 && new Set(keys).size === keys.length && keys.every((key) => allowed.has(key))
}
