import { Elysia } from 'elysia'
import { bodyTooLarge, methodNotAllowed } from './errors.ts'
import { allowedMethods } from './http/allowed-methods.ts'
import { isChatName, STREAM_PATH_PREFIX } from './streams/stream-name.ts'
import { apiRoutes } from './http/api.ts'
import { branchApiRoutes } from './http/branch-api.ts'
import { branchPageRoutes } from './http/branch-pages.ts'
import { NDJSON, parseCappedBody, readCapped } from './http/capped-body.ts'
import { assetRoutes, loadAssets, pageAssets } from './http/assets.ts'
import type { AppDeps } from './http/deps.ts'
import { errorResponse, problemOf } from './http/error-response.tsx'
import { healthRoutes } from './http/health.ts'
import { loginRoutes } from './http/login.tsx'
import { noteProblem, pathOf, requestGuards, requestIdOf } from './http/request-guards.ts'
import { earlierRoutes } from './http/earlier.tsx'
import { chatListRoutes } from './http/chat-list.tsx'
import { pageRoutes } from './http/pages.tsx'
import { publishRoutes } from './http/publish.ts'
import { durableStreamRoutes } from './http/durable-streams.ts'
import { addStreamHeaders } from './http/stream-headers.ts'
import { StreamRefusal } from './streams/stream-answer.ts'
import { streamRoutes } from './http/streams.ts'
import { viewerApiRoutes } from './http/viewer-api.ts'

/** Builds the whole HTTP app around its dependencies; never listens (main.ts does, tests use `app.handle`). */
export async function createApp(deps: AppDeps) {
  const assets = await loadAssets()
  const page = pageAssets(assets)
  // Read once the app is built (below): which methods each path answers, to tell a 405 from a 404.
  let methodsAt: (path: string) => string[] = () => []
  // Mounted in an application's own Elysia app, the hooks below reach the host's routes too: they act on ours only.
  const ours = (path: string) => methodsAt(path).length > 0
  const app = new Elysia()
    // First, so that every request — a refused one too — has its id, its client address and its log line.
    .use(requestGuards(deps, ours))
    .onRequest(({ request }) => {
      // A streamed NDJSON publish may be long; it is capped a line at a time instead (capped-body.ts).
      if (request.headers.get('content-type')?.startsWith(NDJSON) || !ours(pathOf(request))) return
      const length = Number(request.headers.get('content-length') ?? 0)
      if (length > deps.maxBodyBytes) throw bodyTooLarge(deps.maxBodyBytes, length)
    })
    // A chunked body has no Content-Length to refuse above: every body is read with the same cap instead.
    // A stream's body is its bytes, whatever its Content-Type says (JSON mode parses it itself): read raw, same cap.
    .onParse({ as: 'global' }, ({ request }, contentType) => {
      const path = pathOf(request)
      if (!ours(path)) return undefined
      return path.startsWith(STREAM_PATH_PREFIX)
        ? readCapped(request.body, deps.maxBodyBytes)
        : parseCappedBody(request, contentType, deps.maxBodyBytes)
    })
    .onError(({ code, error, request }) => {
      const path = pathOf(request)
      const allow = code === 'NOT_FOUND' ? methodsAt(path) : []
      const allowed = allow.length === 0 || allow.includes(request.method)
      const problem = problemOf({ code, error: allowed ? error : methodNotAllowed(request.method, path, allow) }, path, deps.log)
      noteProblem(request, problem.code, problem.status)
      const response = errorResponse(problem, request, page)
      if (!allowed) response.headers.set('allow', allow.join(', '))
      // The protocol's headers of a refusal (a publisher's Producer-Expected-Seq, Producer-Epoch, Stream-Closed).
      if (error instanceof StreamRefusal) for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value)
      // The streams' paths leave the id out of `set.headers` (request-guards.ts): their refusals carry it here.
      const id = requestIdOf(request)
      if (id !== undefined) response.headers.set('x-request-id', id)
      // A refusal before a stream's route (auth, body size) carries the protocol's headers as its answers do.
      if (path.startsWith(STREAM_PATH_PREFIX)) addStreamHeaders(response.headers, deps.auth !== undefined)
      return response
    })
    .use(healthRoutes(deps))
    .use(deps.auth ? loginRoutes({ ...deps, auth: deps.auth }, page) : new Elysia({ name: 'login' }))
    .use(assetRoutes(assets))
    .use(pageRoutes(deps, page))
    .use(branchPageRoutes(deps))
    .use(earlierRoutes(deps))
    .use(chatListRoutes(deps))
    .use(apiRoutes(deps))
    .use(branchApiRoutes(deps))
    .use(publishRoutes(deps))
    .use(viewerApiRoutes(deps))
    .use(streamRoutes(deps))
    .use(durableStreamRoutes(deps))
  const routed = allowedMethods(app.routes)
  // A chat's stream is only read: a 405 there lists what it answers, not the stream routes' PUT, POST and DELETE.
  methodsAt = (path) =>
    isChatName(path.slice(STREAM_PATH_PREFIX.length)) && path.startsWith(STREAM_PATH_PREFIX) ? ['GET', 'HEAD'] : routed(path)
  return app
}

export type App = Awaited<ReturnType<typeof createApp>>
