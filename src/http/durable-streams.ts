import { Elysia } from 'elysia'
import { AppError, shuttingDown } from '../errors.ts'
import { StreamRefusal, type StreamAnswer } from '../streams/stream-answer.ts'
import { chatStreamWrite } from '../streams/chat-stream-log.ts'
import { isChatName, isStreamName, STREAM_PATH_PREFIX } from '../streams/stream-name.ts'
import type { StreamService } from '../streams/stream-service.ts'
import { IMMUTABLE_PAGE } from '../streams/stream-read.ts'
import type { StreamOperation } from '../metrics.ts'
import type { AppDeps } from './deps.ts'
import { problemOf } from './error-response.tsx'
import { ipOf, noteProblem, pathOf } from './request-guards.ts'
import { asDownload, createdAt } from './safe-headers.ts'
import { addStreamHeaders, preflight } from './stream-headers.ts'
import { sseResponse } from './stream-sse-response.ts'

/**
 * The Durable Streams protocol at `/v1/stream/<name>` (PUT create, POST append, GET read, HEAD, DELETE, OPTIONS),
 * over the stream service. Bodies reach the handlers as bytes, read with the app's body cap (app.ts's parse hook).
 */
export function durableStreamRoutes(deps: AppDeps) {
  const path = `${STREAM_PATH_PREFIX}*`
  const authOn = deps.auth !== undefined
  /**
   * Runs one request's work on the service its name belongs to (a chat's, read-only, for `sessions/` and `view/`),
   * answering its refusal (with the protocol's headers) as any other answer.
   */
  const answer = async (request: Request, work: (service: StreamService, name: string) => Promise<StreamAnswer | Response>) => {
    let response: Response
    try {
      const name = streamName(request)
      // As a new chat's: a write that would land while the store closes is refused with a retry, never half-kept.
      if (request.method !== 'GET' && request.method !== 'HEAD' && deps.runner.draining) throw shuttingDown()
      const service = isChatName(name) ? deps.chatStreams : deps.streams
      if (!service) throw new AppError('NOT_FOUND', 'This server keeps no Durable Streams: its store has no log core.')
      const answered = await work(service, name)
      response = answered instanceof Response ? answered : toResponse(answered, request.method)
    } catch (error) {
      response = refusal(error, request, deps)
    }
    addStreamHeaders(response.headers, authOn)
    deps.metrics.streamOperation(operationOf(request), response.status)
    // Behind auth a page is the signed-in client's: no shared cache may keep it.
    if (authOn && response.headers.get('cache-control') === IMMUTABLE_PAGE) response.headers.set('cache-control', 'private, max-age=60')
    return response
  }
  const bytes = (body: unknown) => (body instanceof Uint8Array ? body : new Uint8Array(0))
  const stop = (request: Request) => [request.signal, deps.shutdown]
  /** GET and HEAD, of a stream or of a chat (its name tells: `answer`). */
  const read = ({ request }: { request: Request }) =>
    answer(request, async (service, name) => {
      if (request.method === 'HEAD') return service.head(name)
      const query = service.readQuery(new URL(request.url).searchParams)
      if (query.live === 'catch-up') return downloaded(await service.read(name, query, request.headers.get('if-none-match'), stop(request)))
      // A live read holds its connection: counted against --max-connections and --max-connections-per-ip.
      const release = deps.connections.acquire(ipOf(request))
      if (query.live === 'long-poll') return service.read(name, query, null, stop(request)).finally(release)
      const failed = (error: unknown) =>
        // No name: a chat's stream is named by its owner id, a capability that no log line holds.
        deps.log.warn('a stream read over SSE failed; its client reconnects from its last offset', {
          error: error instanceof Error ? error.message : String(error),
        })
      return sseResponse(service.context, name, query, stop(request), release, failed).catch((error: unknown) => {
        release()
        throw error
      })
    })
  return (
    new Elysia({ name: 'durable-streams' })
      .options(path, () => {
        deps.metrics.streamOperation('preflight', 204)
        return preflight()
      })
      // A chat's two names are routes of their own (the same handler): each a route template in the metrics and in
      // the request log, as the chat's other read routes are.
      .get(`${STREAM_PATH_PREFIX}sessions/:id`, read)
      .get(`${STREAM_PATH_PREFIX}view/:viewer_id`, read)
      .get(path, read)
      .put(path, ({ request, body }) =>
        answer(request, async (service, name) => {
          const created = await service.create(name, request.headers, bytes(body))
          // The stream's own URL: the query of the PUT is no part of it.
          return created.status === 201
            ? { ...created, headers: { ...created.headers, ...createdAt(request.url.split('?')[0]!) } }
            : created
        }),
      )
      .post(path, ({ request, body }) => answer(request, (service, name) => service.append(name, request.headers, bytes(body))))
      .delete(path, ({ request }) => answer(request, (service, name) => service.delete(name)))
  )
}

const OPERATIONS = new Map<string, StreamOperation>([
  ['PUT', 'create'],
  ['POST', 'append'],
  ['HEAD', 'head'],
  ['DELETE', 'delete'],
])

/** What a request does, for the metrics: its method's operation, or for a GET its kind of read. */
function operationOf(request: Request): StreamOperation {
  const operation = OPERATIONS.get(request.method)
  if (operation) return operation
  const live = new URL(request.url).searchParams.get('live')
  return live === 'sse' || live === 'long-poll' ? live : 'read'
}

/** The stream's name from the path the guards checked: 400 for one no stream may take, 405 for a write to a chat's. */
function streamName(request: Request): string {
  const name = pathOf(request).slice(STREAM_PATH_PREFIX.length)
  if (!isStreamName(name)) {
    throw new AppError(
      'BAD_REQUEST',
      "That is no stream name: use up to 1 KiB of letters, digits and -._~!$&'()*+,;=:@ or %XX escapes, in segments separated by /, none of them . or ..",
    )
  }
  if (isChatName(name) && request.method !== 'GET' && request.method !== 'HEAD') throw chatStreamWrite()
  return name
}

/** Raw bytes are saved by a browser, never rendered (one could hold a page of another origin's making). */
function downloaded(answer: StreamAnswer): StreamAnswer {
  if (answer.status !== 200 || answer.headers['content-type'] !== 'application/octet-stream') return answer
  return { ...answer, headers: { ...answer.headers, ...asDownload() } }
}

function toResponse({ status, headers, body }: StreamAnswer, method: string): Response {
  // HEAD, 204 and 304 carry no body (RFC 9110).
  const bodiless = method === 'HEAD' || status === 204 || status === 304
  return new Response(bodiless ? null : ((body as BodyInit | undefined) ?? null), { status, headers })
}

/** A refusal as JSON with its sentence, the protocol's headers of a StreamRefusal, and Retry-After when it has one. */
function refusal(error: unknown, request: Request, deps: AppDeps): Response {
  const problem = problemOf({ code: 'UNKNOWN', error }, pathOf(request), deps.log)
  noteProblem(request, problem.code, problem.status)
  const headers = new Headers(problem.headers)
  if (error instanceof StreamRefusal) for (const [name, value] of Object.entries(error.headers)) headers.set(name, value)
  const body =
    request.method === 'HEAD' ? null : JSON.stringify({ ...problem.fields, error: { code: problem.code, message: problem.message } })
  if (body !== null) headers.set('content-type', 'application/json')
  // A refusal is of this moment (a stream not created yet, a limit): no cache may keep it.
  headers.set('cache-control', 'no-store')
  return new Response(body, { status: problem.status, headers })
}
